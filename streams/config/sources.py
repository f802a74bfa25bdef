"""Where each setting came from (the environment, the settings file, or its default), and the
BORDERWATCH_* variables and file keys that name no setting: `borderwatch config check`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "BORDERWATCH_"
NOT_SETTINGS = frozenset({"BORDERWATCH_CONFIG"})  # read by the CLI itself


@dataclass(frozen=True)
class SettingSource:
    """One setting in force and where it came from."""

    name: str
    value: Any
    source: str  # "environment BORDERWATCH_X", "file <path>" or "default"


def setting_sources(
    values: Mapping[str, Any], environ: Mapping[str, str], file_values: Mapping[str, Any], file_name: str
) -> list[SettingSource]:
    """Each top-level setting with its source: the environment wins over the file, the file over the
    default (as Settings reads them)."""
    found = []
    for name, value in values.items():
        variable = PREFIX + name.upper()
        from_env = sorted(k for k in environ if k.upper().partition("__")[0] == variable)
        if from_env:
            source = "environment " + ", ".join(from_env)
        elif name in file_values:
            source = f"file {file_name}"
        else:
            source = "default"
        found.append(SettingSource(name, value, source))
    return found


def unknown_names(
    fields: Iterable[str], environ: Mapping[str, str], file_values: Mapping[str, Any]
) -> list[str]:
    """A warning for each BORDERWATCH_* variable and file key that is no setting, with a likely one."""
    known = sorted(fields)
    warnings = []
    for key in sorted(environ):
        upper = key.upper()
        if not upper.startswith(PREFIX) or upper in NOT_SETTINGS:
            continue
        name = upper.removeprefix(PREFIX).partition("__")[0].lower()
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
            hint = f"; did you mean {PREFIX}{close[0].upper()}?" if close else ""
            warnings.append(f"{key} is not a setting and is ignored{hint}")
    for key in sorted(file_values):
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            warnings.append(f"the settings file's key {key!r} is not a setting and is ignored{hint}")
    return warnings
