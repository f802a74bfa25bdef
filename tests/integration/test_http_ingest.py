"""POST /reports on a real worker: a centre's reports are counted, its bad lines are dead letters, another's
authority is refused, and only a centre's token may send."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from streams.web.tokens import hash_token
from streams.worker.datadir import TOKEN_FILE

CENTRE, SLOW, ANALYST = "tok-es-gc-0123456789abcdef", "tok-slow-0123456789abcdef", "tok-analyst-0123456789ab"
GOOD = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
        "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip


def post(worker: Any, token: str, body: bytes, content_type: str = "application/x-ndjson") -> tuple[int, Any]:
    request = urllib.request.Request(
        worker.base_url + "/reports", data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:  # aiohttp's own refusals (413) are text
            return error.code, body.decode(errors="replace")


def test_a_centre_sends_its_reports_over_http_and_each_one_is_accounted_for(
    start_worker: Any, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[token]]\nname = "ES-GC"\nrole = "centre"\nsha256 = "{hash_token(CENTRE)}"\n\n'
        f'[[token]]\nname = "IT-LMP"\nrole = "centre"\nrate_per_s = 0.05\nsha256 = "{hash_token(SLOW)}"\n\n'
        f'[[token]]\nname = "maria"\nrole = "analyst"\nsha256 = "{hash_token(ANALYST)}"\n'
    )
    worker = start_worker(web_tokens_file=str(tokens))
    lines = [orjson.dumps({**GOOD, "report_id": f"h-{n}"}) for n in range(3)]
    bad = orjson.dumps({**GOOD, "report_id": "h-bad", "persons": -2})
    status, answer = post(worker, CENTRE, b"\n".join([*lines, bad, lines[0]]))  # with a resend in it
    assert status == 202, answer
    assert [r["result"] for r in answer["results"]] == ["accepted"] * 3 + ["rejected", "duplicate"]
    assert answer["results"][3]["reason"] == "negative_count"
    single = orjson.dumps({**GOOD, "report_id": "h-single"})
    assert post(worker, CENTRE, single, "application/json")[0] == 202

    status, answer = post(worker, CENTRE, orjson.dumps({**GOOD, "report_id": "h-x", "authority": "MA-NADOR"}))
    assert status == 403 and answer["results"][0]["reason"] == "authority_mismatch"
    worker.wait_until(lambda s: s["events"] >= 4 and s["rejects"] >= 2)
    rows = worker.sql("SELECT report_id FROM borderwatch.events ORDER BY report_id")
    assert rows == [["h-0"], ["h-1"], ["h-2"], ["h-single"]]
    reasons = worker.sql("SELECT reason, source_topic FROM borderwatch.rejects ORDER BY reason")
    assert reasons == [["authority_mismatch", "http:/reports"], ["negative_count", "reports.interceptions"]]

    # Only a centre sends reports: neither an analyst nor the data dir's own token.
    local = (tmp_path / "data" / TOKEN_FILE).read_text().strip()
    assert post(worker, ANALYST, single)[0] == 403 and post(worker, local, single)[0] == 403
    assert post(worker, "tok-nobody", single)[0] == 401
    assert post(worker, CENTRE, single, "text/plain")[0] == 415
    assert post(worker, CENTRE, b"x" * (17 * 1024 * 1024))[0] == 413
    # A centre over its rate is told when to come back.
    slow = [orjson.dumps({**GOOD, "authority": "IT-LMP", "report_id": f"s-{n}"}) for n in range(4)]
    assert post(worker, SLOW, b"\n".join(slow[:3]))[0] == 202
    assert post(worker, SLOW, slow[3])[0] == 429
    worker.wait_until(lambda s: all(state == "ok" for state in s["health"].values()))
