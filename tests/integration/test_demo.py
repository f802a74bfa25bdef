"""The demo tells one story: the same alerts on every run, and only the scripted ones."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.make_sample_feed import generate
from streams.demo.scenario import build_scenario, default_start

pytestmark = pytest.mark.slow  # two demo runs, side by side: half a minute

CLI = [sys.executable, "-m", "streams.cli"]
RUNS = 2


def environment(data: Path) -> dict[str, str]:
    return {**os.environ, "BORDERWATCH_DATA_DIR": str(data), "COLUMNS": "200"}


def run(args: list[str], data: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env=environment(data), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, list[dict]]]:
    """Two demos on fresh data dirs, side by side (each has its own broker and ports): each one's
    output and its alerts (latest state per id)."""
    with contextlib.ExitStack() as stack:
        runs = []
        for n in range(RUNS):
            data = demo_dir(tmp_path_factory, n)
            pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
            demo = stack.enter_context(subprocess.Popen([*CLI, "demo"], env=environment(data), **pipes))
            stack.callback(demo.kill)  # before its exit waits for it, should a run fail or time out
            runs.append((data, demo))
        finished = [(data, *demo.communicate(timeout=300), demo.returncode) for data, demo in runs]
    out = []
    for data, stdout, stderr, code in finished:
        assert code == 0, stdout + stderr
        alerts = run(["alerts", "--format", "json"], data)  # the demo has stopped: chdb opens directly
        assert alerts.returncode == 0, alerts.stderr
        out.append((stdout, json.loads(alerts.stdout)))
    return out


def demo_dir(tmp_path_factory: pytest.TempPathFactory, n: int) -> Path:
    folder = tmp_path_factory.getbasetemp() / f"demo{n}"
    folder.mkdir(exist_ok=True)
    return folder / "data"


def test_a_second_demo_on_the_same_data_dir_tells_its_own_run(
    demo_runs: list[tuple[str, list[dict]]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    feed = generate()
    scenario = build_scenario(default_start(), partitions=1)
    sent = len(feed.interceptions) + len(feed.vessels) + len(scenario.interceptions) + len(scenario.vessels)
    first_stdout, _ = demo_runs[0]
    again = run(["demo"], demo_dir(tmp_path_factory, 0))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "this data dir already held a run" in again.stdout
    assert f"handled {sent}/{sent} messages of this run" in again.stdout
    # Every report of this run was stored by the first: none is stored twice, each is a resend.
    none_stored = re.compile(r"(?<!\d)0 reports stored")
    assert none_stored.search(again.stdout) and not none_stored.search(first_stdout)


def groups(alerts: list[dict]) -> set[str]:
    return {a["id"].rsplit(":", 1)[0] for a in alerts}


def test_the_demo_raises_exactly_the_scripted_alerts_on_every_run(
    demo_runs: list[tuple[str, list[dict]]],
) -> None:
    expected = build_scenario(default_start(), partitions=1).expected_groups
    for _, alerts in demo_runs:
        assert groups(alerts) == expected
    # The same ids too: an id is the kind, the group and the episode's start.
    assert (
        len(
            {
                frozenset(a["id"] for a in alerts if not a["id"].startswith("surge:"))
                for _, alerts in demo_runs
            }
        )
        == 1
    )


def test_the_demo_handles_every_message_and_says_where_the_data_is(
    demo_runs: list[tuple[str, list[dict]]],
) -> None:
    feed = generate()
    scenario = build_scenario(default_start(), partitions=1)
    sent = len(feed.interceptions) + len(feed.vessels) + len(scenario.interceptions) + len(scenario.vessels)
    stdout, alerts = demo_runs[0]
    assert f"handled {sent}/{sent} messages of this run" in stdout
    assert "already held a run" not in stdout
    assert f"{feed.resends} resends ignored" in stdout
    for headline in ("Surge at IT-LAMPEDUSA", "Mass crossing attempt at ES-CEUTA-LAND", "Encounter at sea"):
        assert headline in stdout, headline
    # Each id whole beside its headline, and the reason under it (the list of `borderwatch alerts`).
    for a in alerts:
        assert a["id"] in stdout and f"  {a['headline']}" in stdout, a["id"]
    assert "reappeared after 7.0 h" in stdout and "times the" in stdout
    # A quiet crossing's expectation is a fraction, said as one: "257.1 times the 0 expected" was not.
    assert not re.search(r"the 0(\.0)? expected", stdout)
    assert "borderwatch counts" in stdout
    assert "its topics with it (the bundled Tansu keeps them in memory)" in stdout
    (gap,) = [a for a in alerts if a["kind"] == "ais_gap"]
    assert gap["vessel_ids"] == ["mmsi:224000103"] and "reappeared after 7.0 h" in gap["description"]
    (lampedusa,) = [a for a in alerts if a["id"].startswith("surge:IT-LAMPEDUSA")]
    assert lampedusa["impact"] in ("high", "very_high")
    assert "expected" in lampedusa["description"] and "99% upper bound" in lampedusa["description"]
