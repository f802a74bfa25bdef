"""Time windows through the real CLI and a real worker: --since and --until take ISO times or durations,
a duration counts back from the newest event time in the data (a sample a year old counts as live), and
the output says which window it used."""

from __future__ import annotations

import json
from typing import Any

import orjson

from streams.kafka.topics import INTERCEPTIONS
from tests.helpers.cli import cli, send_lines

CEUTA = {"authority": "ES-GC", "lat": 35.889, "lon": -5.317, "incident_type": "irregular_crossing_attempt"}
DAYS = {"2025-04-01": 5, "2025-04-05": 7, "2025-04-09": 11}  # persons by day, one report each at 10:00


def table_cells(stdout: str) -> list[str]:
    """The cells of a one-row rich table, up to its last minute."""
    (row,) = [line for line in stdout.splitlines() if line.startswith("│") and "ES-" in line]
    return [cell.strip() for cell in row.split("│")[1:-1]][:4]


def test_counts_and_alerts_in_a_window_of_event_time(start_worker: Any, broker: Any) -> None:
    worker = start_worker()
    reports = [orjson.dumps({**CEUTA, "report_id": f"w-{day}", "observed_at": f"{day}T10:00:00Z",
                             "persons": persons}) for day, persons in DAYS.items()]  # fmt: skip
    send_lines(broker, INTERCEPTIONS, reports)
    worker.wait_until(lambda s: s["events"] >= 3)
    data_dir = worker.log.parent

    def persons(*args: str) -> tuple[int, str]:
        result = cli(["counts", "--format", "json", *args], data_dir)
        assert result.returncode == 0, result.stderr
        return sum(row["persons"] for row in json.loads(result.stdout)), result.stderr

    assert persons()[0] == 23
    last_week, said = persons("--since", "7d")  # back from 2025-04-09 10:00, not from today
    assert last_week == 18
    assert "from 2025-04-02 10:00 on" in said and "newest report, 2025-04-09 10:00" in said, said
    assert persons("--since", "2025-04-01", "--until", "2025-04-09")[0] == 12
    assert persons("--until", "1d")[0] == 12  # before 2025-04-08 10:00
    table = cli(["counts", "--since", "2025-04-04", "--until", "2d"], data_dir)
    assert table.returncode == 0, table.stderr
    assert "window from 2025-04-04 00:00 to 2025-04-07 10:00" in " ".join(table.stdout.split())
    assert table_cells(table.stdout) == ["ES-CEUTA-LAND", "Western Mediterranean", "1", "7"]

    bad_windows = (
        (["--since", "yesterday"], "--since 'yesterday' is neither a duration"),
        (["--since", "1d", "--until", "2d"], "must reach further back than --until"),
    )
    for bad, says in bad_windows:
        for command in ("counts", "alerts"):
            refused = cli([command, *bad], data_dir)
            assert refused.returncode == 2 and says in refused.stderr, refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr

    no_alerts = cli(["alerts", "--since", "1d"], data_dir)
    assert no_alerts.returncode == 0, no_alerts.stderr
    assert "no alert yet to count --since/--until back from" in no_alerts.stdout
    absolute = cli(["alerts", "--format", "json", "--since", "2025-01-01", "--until", "2025-02-01"], data_dir)
    assert absolute.returncode == 0 and json.loads(absolute.stdout) == [], absolute.stderr
    assert "window from 2025-01-01 00:00 to 2025-02-01 00:00" in absolute.stderr
