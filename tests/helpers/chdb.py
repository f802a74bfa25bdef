"""Fixture: the one chdb data path of a pytest process (chdb opens one path per process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chdb data path of this pytest process (chdb opens one path per process)."""
    path = tmp_path_factory.getbasetemp() / "chdb-unit"
    path.mkdir(exist_ok=True)
    return path


def query_elsewhere(path: Path, queries: list[str]) -> list[list[list[Any]]]:
    """Each query's rows from the chdb data at `path`, read in a process of its own: this test process
    has its one chdb path already (`engine_dir`), and chdb opens no second one."""
    program = (
        "import sys, orjson; from streams.sinks.clickhouse.connection import connect; "
        "client = connect(sys.argv[1]); "
        "print(orjson.dumps([client.query(q).result_rows for q in sys.argv[2:]]).decode()); client.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, f"chdb://{path.resolve()}", *queries],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    rows: list[list[list[Any]]] = orjson.loads(done.stdout)
    return rows
