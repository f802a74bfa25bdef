"""Package boundaries: pure packages never import I/O libraries or the settings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"faust", "aiokafka", "clickhouse_connect", "chdb", "streams"}
FORBIDDEN_IN_DETECT = {"faust", "aiokafka", "clickhouse_connect", "chdb", "aiohttp", "streams.config"}


def syntax_tree(path: Path) -> ast.Module:
    """A file's syntax tree, parsed again if CPython 3.11's AST constructor trips on itself.

    Python before 3.11.8 can raise a spurious "AST constructor recursion depth mismatch"
    SystemError when threads parse at once (cpython gh-106905); the file is not at fault.
    """
    for attempt in range(1, 4):
        try:
            return ast.parse(path.read_text())
        except SystemError:
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


def imports_of(folder: Path) -> list[tuple[str, str]]:
    """(file name, imported module) for every import in a folder's modules."""
    found = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(syntax_tree(path)):
            if isinstance(node, ast.Import):
                found += [(path.name, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((path.name, node.module))
    return found


@pytest.mark.parametrize("package", ["schemas", "geo"])
def test_pure_packages_do_no_io_imports(package: str) -> None:
    offenders = [(f, m) for f, m in imports_of(ROOT / package) if m.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_detectors_are_pure() -> None:
    """streams/detect imports only pure code: no Kafka, ClickHouse, HTTP or settings."""
    offenders = [
        (f, m)
        for f, m in imports_of(ROOT / "streams" / "detect")
        if m in FORBIDDEN_IN_DETECT or m.split(".")[0] in FORBIDDEN_IN_DETECT
    ]
    assert offenders == []


MARKED = """
import pytest
class Record:
    def pytest_collection_finish(self, session):
        for item in session.items:
            marks = {m.name for m in item.iter_markers()}
            print("MARKS", "integration" in marks, "slow" in marks, item.nodeid)
pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-n", "0", "tests"], plugins=[Record()])
"""


def collected_with_marks() -> dict[str, tuple[bool, bool]]:
    """Every test pytest collects (nothing runs): node id -> (marked integration, marked slow)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", MARKED], cwd=ROOT, capture_output=True, text=True, check=True)
    rows = (line.split(" ", 3)[1:] for line in out.stdout.splitlines() if line.startswith("MARKS "))
    return {node: (integration == "True", slow == "True") for integration, slow, node in rows}


def test_markers_select_the_integration_tests_and_leave_the_slow_ones_out_of_the_quick_loop() -> None:
    marks = collected_with_marks()
    everything = {n for n in marks if n.startswith("tests/integration/")}
    slow_ones = (
        "tests/integration/test_demo.py",
        "tests/integration/test_picture.py",
        "tests/integration/test_crash.py",
        "tests/integration/test_scale_out.py::test_three_workers",
    )
    slow = {n for n in everything if n.startswith(slow_ones)}
    quick_loop = {n for n, (integration, is_slow) in marks.items() if integration and not is_slow}
    assert slow and {n for n, (_, is_slow) in marks.items() if is_slow} == slow
    assert quick_loop == everything - slow


MAX_FUNCTION_LINES = 60


def test_no_function_in_streams_runs_past_sixty_lines_without_saying_why() -> None:
    """A long function is split, or its docstring says why it is long ("Long because ...")."""
    long_ones = []
    for path in sorted((ROOT / "streams").rglob("*.py")):
        for node in ast.walk(syntax_tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES and "Long because" not in (ast.get_docstring(node) or ""):
                    long_ones.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long_ones == []


def test_the_cli_reads_its_settings_and_the_worker_api_without_faust_kafka_or_clickhouse() -> None:
    """`counts`, `sql`, `alerts` ask a running worker over HTTP: their start must not load the engine."""
    import subprocess
    import sys

    heavy = ["faust", "mode", "aiokafka", "chdb", "clickhouse_connect", "shapely", "scipy"]
    probe = (
        "import sys, streams.cli.commands, streams.client.worker_api, streams.config.settings;"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_nothing_in_the_repository_reads_outside_it() -> None:
    """The code and tests read only the repository; `../shared` is for people to copy from."""
    outside = []
    for folder in ("schemas", "geo", "streams", "tests", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == Path(__file__):
                continue
            text = path.read_text()
            if '"shared"' in text or "../shared" in text or "ROOT.parent" in text:
                outside.append(str(path.relative_to(ROOT)))
    assert outside == []
def imported_names(path: Path) -> list[str]:
    """Every dotted module name a file imports, and each name it imports from a module."""
    names = []
    for node in ast.walk(syntax_tree(path)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
    return names


def is_own(name: str) -> bool:
    """A module of this repository's tests: tests.*, relative, or a bare test_x / conftest."""
    first = name.split(".")[0]
    return name.startswith((".", "tests.")) or first.startswith("test_") or first == "conftest"


def test_no_test_imports_another_test_module_or_a_conftest() -> None:
    """Shared code lives in tests/helpers; fixtures come from its modules through pytest_plugins."""
    offenders = [
        (path.relative_to(ROOT).as_posix(), name)
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for name in imported_names(path)
        if is_own(name) and any(part.startswith("test_") or part == "conftest" for part in name.split("."))
    ]
    assert offenders == []


def test_every_test_folder_is_a_package() -> None:
    """Test files are imported by their package path, so tests/unit/x/test_erase.py and
    tests/integration/test_erase.py can both exist."""
    tests = ROOT / "tests"
    folders = {path.parent for path in tests.rglob("test_*.py")}
    folders |= {parent for folder in folders for parent in folder.parents if parent.is_relative_to(tests)}
    assert sorted(f.relative_to(ROOT).as_posix() for f in folders if not (f / "__init__.py").exists()) == []


def test_tests_open_chdb_only_at_the_processes_one_path() -> None:
    """chdb opens one data path per process: a test that opens its own in-process fails beside the others
    (tests/helpers/chdb.py reads another path in a process of its own)."""
    own = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if path != Path(__file__) and re.search(r"connect\(f?[\"']chdb://\{\(?tmp_path", path.read_text()):
            own.append(str(path.relative_to(ROOT)))
    assert own == []
