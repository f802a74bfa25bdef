"""Shared test set-up: the repository root on sys.path (tests use scripts/), and the fixture modules.

Fixtures live in tests/helpers and are registered here, so no test imports a conftest or another test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Every worker the tests start inherits this. Tansu holds a new group's first assignment for half the
# session timeout, and a worker start waits for two of them: 2 s each instead of the default's 5 s.
os.environ.setdefault("BORDERWATCH_KAFKA_SESSION_TIMEOUT_S", "4")

pytest_plugins = [
    "tests.helpers.markers",
    "tests.helpers.scheduling",
    "tests.helpers.chdb",
    "tests.helpers.broker",
    "tests.helpers.workers",
]
