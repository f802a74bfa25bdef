"""POST /reports on a real worker that holds ClickHouse answers `duplicate` for a resend: twice in one
request, and a report whose identity is stored already; each is still counted once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from streams.web.tokens import hash_token
from tests.helpers.api import post_reports

CENTRE = "tok-es-gc-duplicates-0123456789"
GOOD = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
        "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip


def test_a_resend_is_answered_duplicate_and_counted_once(start_worker: Any, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(f'[[token]]\nname = "ES-GC"\nrole = "centre"\nsha256 = "{hash_token(CENTRE)}"\n')
    worker = start_worker(web_tokens_file=str(tokens))
    first, second = (orjson.dumps({**GOOD, "report_id": f"d-{n}"}) for n in (1, 2))
    status, answer = post_reports(worker.base_url, CENTRE, b"\n".join([first, first]))
    assert status == 202 and [r["result"] for r in answer["results"]] == ["accepted", "duplicate"], answer
    assert "earlier in this request" in answer["results"][1]["detail"]
    worker.wait_until(lambda s: s["events"] >= 1)

    status, answer = post_reports(worker.base_url, CENTRE, b"\n".join([second, first]))
    assert status == 202 and [r["result"] for r in answer["results"]] == ["accepted", "duplicate"], answer
    assert "stored already" in answer["results"][1]["detail"]
    worker.wait_until(lambda s: s["events"] >= 2 and s["duplicates"] >= 2)
    assert worker.sql("SELECT report_id, persons FROM borderwatch.events FINAL ORDER BY report_id") == [
        ["d-1", 3], ["d-2", 3],
    ]  # fmt: skip
