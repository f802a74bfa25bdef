"""Names are checked through the real CLI: an unknown route, crossing or kind is one line (exit 2) with
"did you mean" and the valid ones; `zones` lists them; `counts --crossing` filters on a real worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.topics import INTERCEPTIONS
from tests.helpers.cli import cli, send_lines

REPORT = {"authority": "ES-GC", "observed_at": "2025-04-01T10:00:00Z",
          "incident_type": "irregular_crossing_attempt"}  # fmt: skip
CEUTA, MELILLA = {"lat": 35.889, "lon": -5.317}, {"lat": 35.2924, "lon": -2.9556}


def one_line_error(result: Any) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_unknown_names_are_one_line_with_did_you_mean(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # no worker: the names are checked before anything is asked
    route = one_line_error(cli(["counts", "--route", "Atlantis"], data_dir))
    assert "unknown route 'Atlantis': valid: " in route and "Western Mediterranean" in route
    crossing = one_line_error(cli(["counts", "--crossing", "ES-CEUTA"], data_dir))
    assert "unknown crossing 'ES-CEUTA': did you mean 'ES-CEUTA-LAND'" in crossing
    kind = one_line_error(cli(["alerts", "--kind", "surg"], data_dir))
    assert "unknown alert kind 'surg': did you mean 'surge'?" in kind and "ais_gap" in kind
    zones = cli(["zones", "--format", "json"], data_dir)
    assert zones.returncode == 0, zones.stderr
    rows = json.loads(zones.stdout)
    assert {r["layer"] for r in rows} == {"crossing", "route", "country", "section"}
    assert {"ES-CEUTA-LAND", "Western African", "ESP"} <= {r["id"] for r in rows}


def test_counts_by_crossing_and_route_name_in_any_case(start_worker: Any, broker: Any) -> None:
    worker = start_worker()
    reports = [orjson.dumps({**REPORT, **CEUTA, "report_id": "c-1", "persons": 4}),
               orjson.dumps({**REPORT, **MELILLA, "report_id": "m-1", "persons": 9})]  # fmt: skip
    send_lines(broker, INTERCEPTIONS, reports)
    worker.wait_until(lambda s: s["events"] >= 2)
    data_dir = worker.log.parent

    def counted(*args: str) -> list[tuple[str, int]]:
        result = cli(["counts", "--format", "json", *args], data_dir)
        assert result.returncode == 0, result.stderr
        return [(r["crossing_id"], r["persons"]) for r in json.loads(result.stdout)]

    assert counted() == [("ES-MELILLA-LAND", 9), ("ES-CEUTA-LAND", 4)]
    assert counted("--crossing", "ES-CEUTA-LAND") == [("ES-CEUTA-LAND", 4)]
    assert counted("--crossing", "es-melilla-land") == [("ES-MELILLA-LAND", 9)]
    both = counted("--route", "western mediterranean", "--crossing", "ES-CEUTA-LAND")
    assert both == [("ES-CEUTA-LAND", 4)]
    assert counted("--route", "Western African") == []
