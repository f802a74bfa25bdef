"""Issue 21, point 1: the API's descriptor budget and its accept-error log."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.web.connections import ACCEPT_ERROR, quiet_accept_errors
from streams.web.limits import WebLimits


def test_a_worker_whose_open_files_limit_cannot_hold_the_connections_refuses_to_start(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BORDERWATCH_DATA_DIR": str(tmp_path / "data"),
        "BORDERWATCH_KAFKA": "kafka://127.0.0.1:9",
        "COLUMNS": "1000",
    }
    run = subprocess.run(
        ["bash", "-c", f"ulimit -n 1500 && exec {sys.executable} -m streams.cli worker"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode != 0
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "open-files limit is 1500" in lines[0] and "MAX_CONNECTIONS" in lines[0]


def test_the_soft_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    probe = (
        "import resource; from streams.web.limits import WebLimits, reserve_descriptors; "
        "print(reserve_descriptors(WebLimits()), resource.getrlimit(resource.RLIMIT_NOFILE)[1])"
    )
    run = subprocess.run(
        ["bash", "-c", f"ulimit -S -n 2100 && exec {sys.executable} -c '{probe}'"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    soft, hard = run.stdout.split()
    assert soft == hard


def test_limits_refuse_a_per_address_cap_above_the_total() -> None:
    with pytest.raises(ValueError, match="max_connections_per_address"):
        WebLimits(max_connections=10, max_connections_per_address=11)


def test_accept_errors_are_logged_once_a_second_at_most(caplog: pytest.LogCaptureFixture) -> None:
    passed_on: list[dict[str, Any]] = []
    handle = quiet_accept_errors(lambda loop, context: passed_on.append(context))
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="streams.web.connections"):
            for _ in range(1000):
                handle(loop, {"message": ACCEPT_ERROR, "exception": OSError(24, "Too many open files")})
            handle(loop, {"message": "something else"})
    finally:
        loop.close()
    assert len([r for r in caplog.records if ACCEPT_ERROR in r.getMessage()]) == 1
    assert passed_on == [{"message": "something else"}]
