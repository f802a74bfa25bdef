"""The console commands, run as a user runs them: `python -m streams.cli` with a data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "streams.cli"]


def environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """This process's environment with the data dir tmp_path / "data" and wide tables."""
    return {**os.environ, "BORDERWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "160", **env}


def run(
    args: list[str], tmp_path: Path, timeout: float = 240, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env=environment(tmp_path, **env), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def run_bytes(args: list[str], tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """`run` without newline translation: stdout exactly as written (CSV's CRLF, a lone CR)."""
    return subprocess.run(CLI + args, env=environment(tmp_path), capture_output=True, timeout=timeout)
