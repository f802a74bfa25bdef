"""The console script's own answers to a person's mistakes: one line each, and the right exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "streams.cli"]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BORDERWATCH_")}
    return subprocess.run(
        CLI + args, cwd=cwd, env={**environment, "COLUMNS": "200", **env}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_a_misspelt_setting_is_named_with_the_one_meant_by_every_command(tmp_path: Path) -> None:
    done = run(["counts"], tmp_path, BORDERWATCH_DATADIR=str(tmp_path / "elsewhere"))
    assert "BORDERWATCH_DATADIR is not a setting and is ignored; did you mean BORDERWATCH_DATA_DIR?" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_no_warning_when_every_variable_is_a_setting(tmp_path: Path) -> None:
    done = run(["counts"], tmp_path, BORDERWATCH_DATA_DIR=str(tmp_path / "data"))
    assert "warning:" not in done.stderr and done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1  # one line: there is no data yet, and what to run


def test_a_wrong_flag_or_command_is_one_line_naming_the_help_and_exit_2(tmp_path: Path) -> None:
    for args, said in (
        (["counts", "--bogus"], "error: No such option: --bogus (see `"),  # then the program's name, as run
        (["nosuch"], "error: No such command 'nosuch'."),
        (["counts", "--format", "xml"], "error: Invalid value for '--format'"),
    ):
        done = run(args, tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.strip().count("\n") == 0 and said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and "╭" not in done.stderr


def test_help_and_version_still_answer_with_exit_0(tmp_path: Path) -> None:
    assert run(["--version"], tmp_path).stdout.startswith("borderwatch ")
    helped = run(["counts", "-h"], tmp_path)
    assert helped.returncode == 0 and "--since" in helped.stdout
