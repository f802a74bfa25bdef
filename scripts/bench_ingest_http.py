"""Benchmark: HTTP ingest with 10 concurrent centres, on this machine.

Each centre has its own token and sends its own reports (valid interceptions,
distinct ids) as NDJSON requests of --batch lines, one after another; ten run
at once against one worker on the bundled broker and chdb. Prints accepted
reports/s (from the first POST to the last answer) and, for every report,
the time from its request's POST to its row in ClickHouse (`inserted_at`):
p50, p99 and max.
Run: python scripts/bench_ingest_http.py [--reports 50000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.bench_clock import POLL_S
from streams.client.worker_api import WorkerApi, start_worker_process, stop_process, wait_for_worker
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import free_port, start_local_broker
from streams.web.tokens import hash_token

CENTRES = [f"BENCH-{n:02d}" for n in range(10)]


def reports(centre: str, count: int, start: datetime) -> list[bytes]:
    return [orjson.dumps({
        "authority": centre, "report_id": f"{centre}-{n}", "observed_at": start + timedelta(seconds=n),
        "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt", "persons": 1 + n % 7,
    }) for n in range(count)]  # fmt: skip


async def send_all(
    url: str, tokens: dict[str, str], per_centre: int, batch: int
) -> tuple[float, dict[str, float]]:
    """(seconds from the first POST to the last answer, POST time of each report id)."""
    start = datetime.now(UTC) - timedelta(days=1)
    posted: dict[str, float] = {}

    async def centre(session: aiohttp.ClientSession, name: str) -> None:
        lines = reports(name, per_centre, start)
        headers = {"Authorization": f"Bearer {tokens[name]}", "Content-Type": "application/x-ndjson"}
        for i in range(0, len(lines), batch):
            chunk = lines[i : i + batch]
            at = time.time()
            async with session.post(url, data=b"\n".join(chunk), headers=headers) as response:
                answer = await response.json()
                if response.status != 202 or any(r["result"] != "accepted" for r in answer["results"]):
                    raise SystemExit(f"{name}: {response.status} {str(answer)[:300]}")
            for raw in chunk:
                posted[orjson.loads(raw)["report_id"]] = at

    began = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(centre(session, name) for name in CENTRES))
    return time.perf_counter() - began, posted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    per_centre = args.reports // len(CENTRES)
    tokens = {name: f"bench-token-{name}-0123456789" for name in CENTRES}
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp, start_local_broker() as broker:
        asyncio.run(ensure_topics(broker.url, 4))
        tokens_file = Path(tmp) / "tokens.toml"
        tokens_file.write_text("".join(
            f'[[token]]\nname = "{name}"\nrole = "centre"\nrate_per_s = 100000\n'
            f'sha256 = "{hash_token(t)}"\n\n'
            for name, t in tokens.items()
        ))  # fmt: skip
        port, data_dir = free_port(), Path(tmp) / "data"
        log = Path(tmp) / "worker.log"
        process = start_worker_process(
            log, kafka=broker.url, data_dir=str(data_dir), web_port=str(port), partitions="4",
            web_tokens_file=str(tokens_file), detectors="false",
        )  # fmt: skip
        try:
            api: WorkerApi = wait_for_worker(process, f"http://127.0.0.1:{port}", data_dir, log)
            while (api.get("/health") or {}).get("healthy") is not True:
                time.sleep(POLL_S)  # until every part runs: ingest has joined its group
            elapsed, posted = asyncio.run(send_all(f"http://127.0.0.1:{port}/reports", tokens, per_centre,
                                                   args.batch))  # fmt: skip
            total = len(posted)
            deadline = time.monotonic() + 600
            while int((api.get("/status") or {}).get("events", 0)) < total:
                if time.monotonic() > deadline:
                    raise SystemExit("the reports did not all reach ClickHouse within 10 minutes")
                time.sleep(POLL_S)
            rows = api.sql("SELECT report_id, toUnixTimestamp64Milli(inserted_at) FROM borderwatch.events")[
                "rows"
            ]
        finally:
            stop_process(process)
    latencies = sorted(inserted / 1000 - posted[report_id] for report_id, inserted in rows)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    print(f"accepted: {total:,} reports from {len(CENTRES)} concurrent centres in {elapsed:.1f} s: "
          f"{total / elapsed:,.0f} reports/s (requests of {args.batch})")  # fmt: skip
    print(f"POST to ClickHouse: p50 {p(0.5):.2f} s, p99 {p(0.99):.2f} s, max {latencies[-1]:.2f} s")


if __name__ == "__main__":
    main()
