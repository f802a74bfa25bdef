"""Hook: every test under tests/integration is marked `integration` (a conftest's `pytestmark` marks none)."""

from __future__ import annotations

import pytest

from tests.helpers.paths import ROOT

INTEGRATION = ROOT / "tests" / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)
