"""Shared test set-up: the repository root on sys.path so tests can use scripts/, and chdb's one path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chdb data path of this pytest process (chdb opens one path per process)."""
    path = tmp_path_factory.getbasetemp() / "chdb-unit"
    path.mkdir(exist_ok=True)
    return path
