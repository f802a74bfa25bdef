"""`borderwatch replay` through the real CLI to a real worker: it sends the good lines, skips and counts
the malformed ones and those for the other topic (with their line numbers), and refuses a negative rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.helpers.cli import cli

REPORT = {"authority": "ES-GC", "observed_at": "2025-04-01T10:00:00Z", "lat": 35.889, "lon": -5.317,
          "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip
VESSEL = {"authority": "ES-GC", "observed_at": "2025-04-01T10:00:00Z", "lat": 35.9, "lon": -5.3,
          "source": "ais", "mmsi": 224000101, "report_id": "v-1"}  # fmt: skip


def test_replay_sends_good_lines_and_counts_the_skipped_and_malformed(
    start_worker: Any, broker: Any, tmp_path: Path
) -> None:
    worker = start_worker()
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join([
        orjson.dumps({**REPORT, "report_id": "r-1"}),
        b"report_id,authority,lat,lon",  # line 2: a CSV line
        orjson.dumps(VESSEL),  # line 3: for reports.vessels
        b"",
        orjson.dumps({**REPORT, "report_id": "r-2"})[:40],  # line 5: truncated
        orjson.dumps({**REPORT, "report_id": "r-3"}),
    ]) + b"\n")  # fmt: skip
    result = cli(["replay", str(feed)], worker.log.parent, BORDERWATCH_KAFKA=broker.url)
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert (
        f"sent 2 lines to reports.interceptions on {broker.url}; skipped 1 line for "
        "reports.vessels (vessel reports) and 2 malformed lines (no JSON object)"
    ) in said, result.stdout
    assert "for reports.vessels: line 3" in said and "malformed: line 2, 5" in said, result.stdout
    status = worker.wait_until(lambda s: s["events"] >= 2)
    assert (status["events"], status["rejects"]) == (2, 0)

    for rate in ("-1", "nan"):
        refused = cli(["replay", str(feed), "--rate", rate], worker.log.parent, BORDERWATCH_KAFKA=broker.url)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert f"--rate {float(rate)} is not a rate" in line
