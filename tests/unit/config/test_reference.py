"""The settings reference page: generated from the settings model, committed, and never stale."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import pytest
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.config.reference import settings_reference
from streams.config.settings import Settings
from tests.helpers.paths import ROOT

PAGE = ROOT / "docs" / "operations" / "settings.md"


def test_the_committed_page_is_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == settings_reference(), (
        "docs/operations/settings.md is stale: python scripts/write_settings_docs.py"
    )


@pytest.mark.parametrize(
    ("env", "value", "read"),
    [
        ("BORDERWATCH_PARTITIONS", "8", lambda s: s.partitions == 8),
        ("BORDERWATCH_DETECT__GAP_S", "123", lambda s: s.detect.gap_s == 123.0),
        ("BORDERWATCH_RETENTION__RAW_DAYS", "7", lambda s: s.retention.raw_days == 7),
        ("BORDERWATCH_ANALYST__MAX_THREADS", "2", lambda s: s.analyst.max_threads == 2),
        ("BORDERWATCH_LIMITS__MAX_PERSONS", "500", lambda s: s.limits.max_persons == 500),
        (
            "BORDERWATCH_KAFKA_SECURITY__SASL_MECHANISM",
            "PLAIN",
            lambda s: s.kafka_security.sasl_mechanism == "PLAIN",
        ),
    ],
)
def test_the_page_names_the_variables_the_settings_read(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, read: Callable[[Settings], bool]
) -> None:
    assert f"| `{env}` |" in settings_reference()
    monkeypatch.setenv(env, value)
    assert read(Settings())


def test_every_field_has_a_row() -> None:
    page = settings_reference()
    for name, info in Settings.model_fields.items():
        group = info.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            for sub in group.model_fields:
                assert f"| `BORDERWATCH_{name.upper()}__{sub.upper()}` |" in page
        else:
            assert f"| `BORDERWATCH_{name.upper()}` |" in page


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Group(BaseModel):
    depth_m: float = Field(2.5, gt=0, description="how deep | at most")


class Small(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", env_nested_delimiter="__")

    colour: Colour = Field(Colour.RED, description="the <colour> *of* it")
    file: Path | None = Field(None, description="a file")
    names: list[str] = Field(default_factory=list, description="names")
    group: Group = Field(default_factory=Group, description="a group of one")


def test_a_small_model_renders_row_by_row() -> None:
    page = settings_reference(Small)
    assert "| `APP_COLOUR` | `red` or `blue` | `red` | the &lt;colour&gt; \\*of\\* it |" in page
    assert "| `APP_FILE` | path, optional | none | a file |" in page
    assert "| `APP_NAMES` | JSON list of text | `[]` | names |" in page
    assert "## `APP_GROUP__*`\n\nA group of one.\n" in page
    assert "| `APP_GROUP__DEPTH_M` | number, > 0 | `2.5` | how deep \\| at most |" in page
