"""The centres' client script and sample reports on a real worker: scripts/post_reports.py sends NDJSON
in batches, waits out a 429's Retry-After and sends again, names a rejected line by its number in the
file; the shipped examples are accepted as `curl --data-binary @file` sends them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from streams.web.tokens import hash_token
from tests.helpers.api import post_reports

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"ES-GC": "tok-es-gc-post-reports-0123456789", "IT-GDF": "tok-it-gdf-examples-0123456789",
          "EMSA-AIS": "tok-emsa-ais-examples-012345678"}  # fmt: skip
GOOD = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
        "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip


def test_the_script_sends_waits_out_the_rate_and_the_examples_are_accepted(
    start_worker: Any, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text("\n".join(
        f'[[token]]\nname = "{name}"\nrole = "centre"\nrate_per_s = 5\nsha256 = "{hash_token(token)}"\n'
        for name, token in TOKENS.items()
    ))  # fmt: skip  # 5 reports/s, a bucket of 300: the second batch of 175 waits (less than 10 s)
    worker = start_worker(web_tokens_file=str(tokens))
    lines = [orjson.dumps({**GOOD, "report_id": f"p-{n}"}) for n in range(350)]
    lines[199] = orjson.dumps({**GOOD, "report_id": "p-bad", "persons": -1})
    feed = tmp_path / "reports.ndjson"
    feed.write_bytes(b"\n".join(lines[:100]) + b"\n\n" + b"\n".join(lines[100:]) + b"\n")  # a blank line 101
    script = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "post_reports.py"), str(feed), "--url", worker.base_url,
         "--batch", "175"],
        env={**os.environ, "BORDERWATCH_TOKEN": TOKENS["ES-GC"]}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert script.returncode == 1, script.stdout + script.stderr  # 1: a line was rejected
    summary = script.stdout.strip().splitlines()[-1]
    waits = re.fullmatch(r"350 reports: 349 accepted, 1 rejected; (\d+) waits for the worker", summary)
    assert waits and int(waits.group(1)) >= 1, script.stdout + script.stderr
    assert ": 429 (over the rate of 5 reports/s for 'ES-GC'); again in " in script.stderr
    assert "line 201: rejected negative_count (persons):" in script.stderr  # its line in the file

    for name, kind in (("IT-GDF", "interception"), ("EMSA-AIS", "vessel")):
        example = ROOT / "streams" / "data" / "examples" / f"{kind}.json"
        body = example.read_bytes()
        status, answer = post_reports(worker.base_url, TOKENS[name], body, "application/json", kind)
        assert status == 202 and answer["results"] == [{"line": 1, "result": "accepted"}], answer
    worker.wait_until(lambda s: s["events"] >= 351 and s["rejects"] >= 1)
    stored = worker.sql("SELECT authority, count() FROM borderwatch.events FINAL GROUP BY 1 ORDER BY 1")
    assert stored == [["EMSA-AIS", 1], ["ES-GC", 349], ["IT-GDF", 1]]
    assert worker.sql("SELECT count() FROM borderwatch.vessel_positions") == [[1]]
