"""Settings reference: the Markdown page of every BORDERWATCH_* variable, read off the settings model.

docs/operations/settings.md is this function's output (scripts/write_settings_docs.py writes it, and a
unit test fails when the committed page differs), so the documented names, types, defaults and meanings
cannot drift from the code.
"""

from __future__ import annotations

import json
import types
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from streams.config.settings import Settings

HEADER = """\
# Settings

<!-- Generated from the settings model by `python scripts/write_settings_docs.py`: do not edit by hand. -->

Every setting is an environment variable. A group's field is `<GROUP>{delimiter}<FIELD>`, e.g.
`{example}`; a whole group can also be given as one JSON object in the group's variable. A list is
given as JSON, e.g. `["a.example.org"]`. Every command reads the settings at start and refuses a wrong
value in one line that names the field and the problem.

The same settings may come from a TOML file named by `BORDERWATCH_CONFIG` (or `borderwatch --config
FILE`): a key per setting in lower case (`partitions = 4`), a table per group (`[kafka_security]`).
The environment wins over the file, the file over the default. `borderwatch config check` prints every
setting in force and where it came from, and warns (exit 1) about a `BORDERWATCH_*` variable or file key
that is no setting, e.g. `BORDERWATCH_DATADIR` ("did you mean BORDERWATCH_DATA_DIR?").
"""

_BOUNDS = (
    (annotated_types.Ge, "≥"),
    (annotated_types.Gt, ">"),
    (annotated_types.Le, "≤"),
    (annotated_types.Lt, "<"),
)


def settings_reference(model: type[BaseSettings] = Settings) -> str:
    """The settings page in Markdown: one table of the plain settings, then one per group."""
    config = model.model_config
    prefix = str(config.get("env_prefix", "")).upper()
    delimiter = str(config.get("env_nested_delimiter") or "__")
    plain: list[str] = []
    groups: list[str] = []
    example = ""
    for name, info in model.model_fields.items():
        env = prefix + _env_name(name, info)
        group = _model_of(info.annotation)
        if group is None:
            plain.append(_row(env, info))
            continue
        rows = [
            _row(env + delimiter + _env_name(sub, subinfo), subinfo)
            for sub, subinfo in group.model_fields.items()
        ]
        example = example or env + delimiter + _env_name(next(iter(group.model_fields)), None)
        about = _cell(info.description or "")
        groups.append(f"## `{env}{delimiter}*`\n\n{about[:1].upper()}{about[1:]}.\n\n" + _table(rows))
    head = HEADER.format(delimiter=delimiter, example=f"{example}=…")
    return "\n".join([head, "## Plain settings\n", _table(plain), *groups]).rstrip("\n") + "\n"


def _env_name(name: str, info: FieldInfo | None) -> str:
    alias = info.validation_alias if info is not None else None
    return (alias if isinstance(alias, str) else name).upper()


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _table(rows: list[str]) -> str:
    return "| variable | type | default | meaning |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"


def _row(env: str, info: FieldInfo) -> str:
    cells = (f"`{env}`", _type(info), _default(info), _cell(info.description or ""))
    return "| " + " | ".join(cells) + " |"


def _type(info: FieldInfo) -> str:
    text = _type_name(info.annotation)
    bounds = [
        f"{sign} {_value(getattr(item, kind.__name__.lower()))}"
        for item in info.metadata
        for kind, sign in _BOUNDS
        if isinstance(item, kind)
    ]
    return ", ".join([text, *bounds])


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        inner = " or ".join(_type_name(arg) for arg in args)
        return f"{inner}, optional" if len(args) < len(get_args(annotation)) else inner
    if origin in (list, tuple):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return f"JSON list of {_type_name(args[0])}" if args else "JSON list"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values = [f"`{member.value}`" for member in annotation]
        return ", ".join(values[:-1]) + " or " + values[-1]
    names = {str: "text", int: "integer", float: "number", bool: "`true` or `false`", Path: "path"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, datetime):
        return "date-time with offset"
    return {"IPvAnyAddress": "IP address", "AwareDatetime": "date-time with offset"}.get(
        getattr(annotation, "__name__", ""), str(annotation)
    )


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    text = _value(value)
    return f"`{text}`" if text else "empty"


def _value(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat().replace("+00:00", "Z")
    elif isinstance(value, (int, float)):
        text = _number(value)
    elif isinstance(value, (list, tuple)):
        text = json.dumps(list(value))
    else:
        text = str(value)
    return text


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: no pipe, no HTML tag, no emphasis by a star."""
    for char, escaped in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("*", "\\*")):
        text = text.replace(char, escaped)
    return text
