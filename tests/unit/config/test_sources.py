"""Where each setting came from, and the names that are no setting (`borderwatch config check`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigFileError
from streams.config.settings import CONFIG_VARIABLE, Settings
from streams.config.sources import setting_sources, unknown_names


def test_the_environment_wins_over_the_file_and_the_file_over_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "borderwatch.toml"
    config.write_text('partitions = 3\nlog_format = "json"\n\n[limits]\nmax_persons = 500\n')
    monkeypatch.setenv(CONFIG_VARIABLE, str(config))
    monkeypatch.setenv("BORDERWATCH_PARTITIONS", "5")
    settings = Settings()
    assert (settings.partitions, settings.log_format.value, settings.limits.max_persons) == (5, "json", 500)
    environ = {"BORDERWATCH_PARTITIONS": "5", "BORDERWATCH_WEB_LIMITS__MAX_CONNECTIONS": "9"}
    file_values = {"partitions": 3, "log_format": "json", "limits": {"max_persons": 500}}
    sources = {
        s.name: s.source
        for s in setting_sources(settings.model_dump(mode="json"), environ, file_values, str(config))
    }
    assert sources["partitions"] == "environment BORDERWATCH_PARTITIONS"
    assert sources["web_limits"] == "environment BORDERWATCH_WEB_LIMITS__MAX_CONNECTIONS"
    assert sources["log_format"] == sources["limits"] == f"file {config}"
    assert sources["kafka"] == "default"


def test_a_misspelt_variable_or_key_is_named_with_the_setting_it_likely_meant() -> None:
    environ = {"BORDERWATCH_DATADIR": "x", "BORDERWATCH_CONFIG": "c.toml", "HOME": "/root",
               "BORDERWATCH_LIMITS__MAX_PERSONS": "9", "BORDERWATCH_ZZZ": "1"}  # fmt: skip
    warnings = unknown_names(Settings.model_fields, environ, {"partitons": 2, "role": "all"})
    assert warnings == [
        "BORDERWATCH_DATADIR is not a setting and is ignored; did you mean BORDERWATCH_DATA_DIR?",
        "BORDERWATCH_ZZZ is not a setting and is ignored",
        "the settings file's key 'partitons' is not a setting and is ignored; did you mean 'partitions'?",
    ]


def test_a_settings_file_that_is_not_toml_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("partitions = = 3\n")
    monkeypatch.setenv(CONFIG_VARIABLE, str(config))
    with pytest.raises(ConfigFileError, match="is not TOML"):
        Settings()
    monkeypatch.setenv(CONFIG_VARIABLE, str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigFileError, match="cannot read the settings file"):
        Settings()
