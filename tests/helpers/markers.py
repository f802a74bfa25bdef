"""Hook: every test under tests/integration is marked `integration` (a conftest's `pytestmark` marks none),
and the slow tests are handed out first, so that none of them is left to run alone at the end."""

from __future__ import annotations

import pytest

from tests.helpers.paths import ROOT

INTEGRATION = ROOT / "tests" / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: slow first, else as found
