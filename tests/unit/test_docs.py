"""The documentation: README's two commands are what CI runs, docs/ builds with `mkdocs build --strict`
(a broken link or anchor, or a page left out of the navigation, fails), and the pages name every report
field and every table column, and no module path that no longer exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from schemas.reports import InterceptionReport, PersonsDetail, Seizure, VesselReport

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def test_the_site_builds_strict_without_a_warning(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(tmp_path)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert built.returncode == 0 and "WARNING" not in built.stderr + built.stdout, built.stderr
    assert (tmp_path / "operations" / "settings" / "index.html").is_file()


def test_ci_runs_the_readme_install_step_then_its_test_command() -> None:
    install, tests = (block.strip() for block in fenced(README.read_text(encoding="utf-8"), "sh")[:2])
    assert install.endswith(" && .venv/bin/borderwatch demo")
    ci_steps = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.startswith((".venv/", "python3 ", "apt-get "))]  # fmt: skip
    assert ci_steps == [install.removesuffix(" && .venv/bin/borderwatch demo"), *tests.splitlines()]


def test_the_readme_stays_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


def test_every_report_field_has_its_allowed_values_on_the_centres_page() -> None:
    page = (DOCS / "centres" / "reports.md").read_text(encoding="utf-8")
    models: list[type[BaseModel]] = [InterceptionReport, VesselReport, PersonsDetail, Seizure]
    for model in models:
        for name in model.model_fields:
            assert f"`{name}`" in page, f"{model.__name__}.{name} is not on docs/centres/reports.md"


def test_every_column_of_every_table_is_on_the_analysts_page() -> None:
    """docker/clickhouse/cluster.sql is the real schema (a test fails when it is stale)."""
    ddl = (ROOT / "docker" / "clickhouse" / "cluster.sql").read_text(encoding="utf-8")
    page = (DOCS / "analysts.md").read_text(encoding="utf-8")
    tables = re.findall(r"CREATE TABLE IF NOT EXISTS \w+\.(\w+) ON CLUSTER \w+\n\((.*?)\n\)", ddl, re.S)
    assert len(tables) >= 10
    for table, body in tables:
        name = table.removesuffix("_local")
        section = page.split(f"`{name}`", 1)
        assert len(section) == 2, f"table {name} is not on docs/analysts.md"
        for column in re.findall(r"^\s+`(\w+)`", body, re.M):
            assert f"`{column}`" in section[1], f"{name}.{column} is not on docs/analysts.md"


STALE = [
    "cli.py", "DESIGN.md", "sinks/tasks.py", "streams/settings.py", "streams/secrets.py",
    "streams/ais.py", "streams/replay.py", "streams/pipeline.py", "streams/poison.py",
    "stages/batches.py", "streams/detection.py", "detect/batch.py", "detect_agents.py", "streams/app.py",
    "streams/worker.py", "streams/supervise.py", "streams/datadir.py", "worker_client.py",
    "streams/analytics.py", "streams/demo.py", "streams/scenario.py", "sinks/topic.py",
    "sinks/clickhouse.py", "sinks/alerts.py", "sinks/transitions.py", "sinks/erase.py",
    "sinks/retention.py", "sinks/cluster_ddl.py",
]  # fmt: skip


@pytest.mark.parametrize(
    "page", [README, *sorted(DOCS.rglob("*.md"))], ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_no_page_names_a_file_that_is_gone(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert [path for path in STALE if re.search(rf"(?<!\w){re.escape(path)}", text)] == []
