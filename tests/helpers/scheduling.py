"""Hook: which tests must run in one test process, for `--dist loadgroup`.

Each test goes to whichever process is free, except the tests of a group below, which share a module-
or session-scoped worker and go to one process together (so that it starts once). These groups are
named here by file, not with `xdist_group` marks: with pytest 9.2, pytest-xdist 3.8 ignores the marks
(its loadgroup rewrites a node id field that pytest no longer reads; pytest-dev/pytest-xdist#1386).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

GROUPS = {
    "tests/integration/test_cli.py": "cli_night",  # the module-scoped `night` worker
    "tests/integration/test_demo.py": "demo",  # the module-scoped `demo_runs`
    "tests/install/test_wheel.py": "wheel",  # the module-scoped `wheel`
    # The session-scoped `idle_worker` (tests/helpers/workers.py), with these files' other tests.
    "tests/integration/test_http_abuse.py": "idle_worker",
    "tests/integration/test_erase.py": "idle_worker",
}


@cache
def shares_a_module_fixture(path: str) -> bool:
    """A test file with a module-scoped fixture: its tests share what it made (a worker, a broker, the
    state earlier tests left in them), so they run in one process, as loadfile would run them."""
    file = Path(path)
    return file.is_file() and 'scope="module"' in file.read_text()


class FileGroupScheduling(LoadGroupScheduling):
    """loadgroup, with the groups of GROUPS, every file with a module-scoped fixture as a group of its own,
    and xdist's own `@group` suffixes."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::")[0]
        group = GROUPS.get(path)
        if group is None and shares_a_module_fixture(path):
            group = path
        return group if group is not None else str(super()._split_scope(nodeid))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadGroupScheduling | None:
    return FileGroupScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None
