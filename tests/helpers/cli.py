"""CLI test helpers: run `borderwatch` as a person would, on a data dir, and send lines to a topic."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from streams.kafka.broker import LocalBroker
from streams.sources.replay import replay_lines

CLI = [sys.executable, "-m", "streams.cli"]


def cli(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`borderwatch ARGS` on a data dir, 200 columns wide, its output captured."""
    environment = {**os.environ, "BORDERWATCH_DATA_DIR": str(data_dir), "COLUMNS": "200", **env}
    return subprocess.run(CLI + args, env=environment, capture_output=True, text=True, timeout=240)


def send_lines(broker: LocalBroker, topic: str, lines: list[bytes]) -> int:
    """Produce lines to a topic on a test broker."""
    return asyncio.run(replay_lines(iter(lines), topic, broker.url))





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
