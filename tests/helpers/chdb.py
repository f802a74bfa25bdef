"""Fixture: the one chdb data path of a pytest process (chdb opens one path per process)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chdb data path of this pytest process (chdb opens one path per process)."""
    path = tmp_path_factory.getbasetemp() / "chdb-unit"
    path.mkdir(exist_ok=True)
    return path
