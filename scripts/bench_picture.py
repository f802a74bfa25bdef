"""The live picture's first paint on a year of history (docs/picture.md, Scale).

Fills a chdb data dir through the real migrations with a year of history made by ClickHouse itself
(INSERT ... SELECT from numbers()): 1,000,000 vessel positions of 2,000 vessels and 200,000 interceptions,
both as `events` rows so the materialized views derive `vessel_positions`, `crossing_counts` and
`report_keys` as they do in service; 10,000 alerts of every kind, zone and impact with 1 to 3 versions
each; 5,000 rejects. Then starts a real worker on it (the bundled broker) and times the page's first paint:

- each request the page makes on load (the page, its styles and scripts, /picture/me, /picture/map,
  /picture/situation, /picture/health), as the wall time from sending it to the last byte of the answer
  on loopback, cold (the worker's first) and warm, and their total;
- with Debian's chromium, the browser's own: from navigation start to the `picture-first-paint` mark
  picture.js sets with body[data-refreshed].

    .venv/bin/python scripts/bench_picture.py [--dir DIR] [--keep]

Figures are printed, never asserted. A data dir is filled once: `--dir` an existing one to time again.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

DB = "borderwatch"
YEAR_S = 365 * 86400
END = "2026-12-01 00:00:00"  # the newest event: "now" on the page
VESSELS, POSITIONS, INTERCEPTIONS, ALERTS, REJECTS = 2_000, 1_000_000, 200_000, 10_000, 5_000
KINDS = ["surge", "mass_attempt", "large_boat", "ais_gap", "loitering", "encounter", "implausible_speed",
         "geofence_enter", "geofence_exit", "geofence_cross", "vessel_of_interest"]  # fmt: skip
IMPACTS = ["low", "medium", "high", "very_high"]


def fill(data_dir: Path) -> None:
    """The year of history, in this (child) process: chdb opens one path per process."""
    from geo.catalogue import load_catalogue
    from streams.sinks.clickhouse.connection import connect
    from streams.sinks.clickhouse.migrations.runner import migrate

    client = connect(f"chdb://{(data_dir / 'chdb').resolve()}")
    migrate(client, DB)
    props = load_catalogue().crossings.props
    crossings = [str(p["id"]) for p in props]
    routes = [str(p["route"]) for p in props]
    countries = [str(p["country"]) for p in props]
    arrays = f"{crossings} AS crossings, {routes} AS routes, {countries} AS countries, {KINDS} AS kinds, " \
             f"{IMPACTS} AS impacts, toDateTime64('{END}', 3, 'UTC') AS end_at"  # fmt: skip
    started = time.perf_counter()
    client.command(
        f"INSERT INTO {DB}.events (authority, report_id, kind, observed_at, received_at, lat_deg, lon_deg, "
        "crossing_id, country, route, incident_type, persons, nationalities, vessel_key, source_topic, "
        f"source_partition, source_offset, report) WITH {arrays} SELECT 'AIS-MED', "
        "concat('v-', toString(number)), "
        f"'vessel', end_at - toIntervalSecond(intDiv({YEAR_S} * ({POSITIONS} - 1 - number), {POSITIONS})), "
        f"end_at - toIntervalSecond(intDiv({YEAR_S} * ({POSITIONS} - 1 - number), {POSITIONS}) - 30), "
        "33.0 + (number % 997) / 200.0, -5.0 + (number % 2999) / 150.0, '', '', '', '', 0, map(), "
        f"concat('V', toString(number % {VESSELS})), 'vessels', number % 2, number, '{{}}' "
        f"FROM numbers({POSITIONS})",
        settings={"throw_on_max_partitions_per_insert_block": 0},
    )
    client.command(
        f"INSERT INTO {DB}.events (authority, report_id, kind, observed_at, received_at, lat_deg, lon_deg, "
        "crossing_id, country, route, incident_type, persons, nationalities, vessel_key, source_topic, "
        f"source_partition, source_offset, report) WITH {arrays} SELECT countries[1 + number % 18], "
        "concat('i-', toString(number)), 'interception', "
        f"end_at - toIntervalSecond(intDiv({YEAR_S} * ({INTERCEPTIONS} - 1 - number), {INTERCEPTIONS})), "
        f"end_at - toIntervalSecond(intDiv({YEAR_S} * ({INTERCEPTIONS} - 1 - number), {INTERCEPTIONS})) "
        "+ toIntervalSecond(60 + number % 7200), 35.0 + (number % 500) / 100.0, "
        "-3.0 + (number % 700) / 50.0, "
        f"crossings[1 + number % {len(crossings)}], countries[1 + number % {len(crossings)}], "
        f"routes[1 + number % {len(crossings)}], 'boat_interception', 1 + number % 40, map('SYR', 1), "
        f"'', 'interceptions', number % 2, number, '{{}}' FROM numbers({INTERCEPTIONS})",
        settings={"throw_on_max_partitions_per_insert_block": 0},
    )
    client.command(
        f"INSERT INTO {DB}.alerts (id, version, kind, status, impact, confidence, zone_id, route, "
        "window_start, window_end, event_ids, vessel_ids, lat_deg, lon_deg, headline, description, notify, "
        f"opened_at, sent_at) WITH {arrays} SELECT concat(kinds[1 + n % 11], ':bench-', toString(n)), v, "
        "kinds[1 + n % 11], if(v = 1 AND versions = 1 AND n % 10 != 0, 'resolved', if(v = 1, 'new', "
        "if(v = versions AND n % 10 != 0, 'resolved', 'updated'))), impacts[1 + (n + v) % 4], 0.5 + (n % 50) "
        f"/ 100.0, crossings[1 + n % {len(crossings)}], routes[1 + n % {len(crossings)}], ws, ws + "
        "toIntervalSecond(3600 * v), [concat(countries[1 + (n * 11) % 18], ':i-', toString(n * 20))], "
        f"[concat('V', toString(n % {VESSELS}))], 36.0 + (n % 300) / 100.0, (n % 900) / 100.0, "
        "concat('bench alert ', toString(n)), 'made by scripts/bench_picture.py', true, ws, ws + "
        "toIntervalSecond(3600 * v) FROM (SELECT number AS n, 1 + number % 3 AS versions, "
        f"end_at - toIntervalSecond(intDiv({YEAR_S} * ({ALERTS} - 1 - number), {ALERTS})) - "
        f"toIntervalSecond(7200) AS ws FROM numbers({ALERTS})) ARRAY JOIN range(1, versions + 1) AS v",
    )
    client.command(
        f"INSERT INTO {DB}.rejects (source_topic, source_partition, source_offset, reason, field, detail, "
        f"received_at, raw) WITH {arrays} SELECT 'interceptions', number % 2, 10000000 + number, "
        "['schema', 'unknown_crossing', 'future_time'][1 + number % 3], 'persons', 'bench', end_at - "
        "toIntervalSecond(number * 600), concat('{\"authority\": \"', countries[1 + number % 18], '\"}') "
        f"FROM numbers({REJECTS})",
    )
    counts = {t: client.query(f"SELECT count() FROM {DB}.{t}").result_rows[0][0]
              for t in ("events", "vessel_positions", "crossing_counts", "alerts", "rejects")}  # fmt: skip
    print(f"filled {data_dir} in {time.perf_counter() - started:.1f} s: {counts}", flush=True)


@dataclass
class Timed:
    """One request of the page's load and its wall time."""

    path: str
    status: int
    bytes: int
    ms: float


def timed_get(base: str, path: str, cookie: str) -> Timed:
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie, "Accept": "application/json"})
    answer = connection.getresponse()
    body = answer.read()
    ms = (time.perf_counter() - started) * 1000
    connection.close()
    return Timed(path, answer.status, len(body), ms)


PAGE_LOAD = [
    "/", "/static/vendor/leaflet/leaflet.css", "/static/picture.css", "/static/vendor/leaflet/leaflet.js",
    "/static/picture.js", "/picture/me", "/picture/map", "/picture/situation?span=24h&offset=0&limit=25",
    "/picture/health",
]  # fmt: skip


def session_cookie(base: str, api: object) -> str:
    """A picture session of the data dir's own token, through a one-time code."""
    answer = api.post("/picture/code", {})  # type: ignore[attr-defined]
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    connection.request("GET", answer["path"])
    response = connection.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie") or ""
    return cookie.split(";")[0]


def time_page_load(base: str, cookie: str, label: str) -> None:
    rows = [timed_get(base, path, cookie) for path in PAGE_LOAD]
    print(f"\n{label}: the page's requests, one after another (wall ms, loopback)")
    for row in rows:
        print(f"  {row.ms:8.1f} ms  {row.status}  {row.bytes:>9} B  {row.path}")
    print(f"  {sum(r.ms for r in rows):8.1f} ms  total")


def time_situation(base: str, cookie: str, rounds: int = 5) -> None:
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    connection.request("GET", "/picture/situation?span=7d&offset=0&limit=25", headers={"Cookie": cookie})
    shown = json.loads(connection.getresponse().read())
    points = sum(len(s["points"]) for t in shown["tracks"] for s in t["stretches"])
    print(
        f"  the 7 d situation: {shown['totals']}, {len(shown['alerts'])} alerts on its page, "
        f"{len(shown['tracks'])} tracks of {points} points, {len(shown['crossings'])} crossings"
    )
    for span in ("24h", "7d"):
        path = f"/picture/situation?span={span}&offset=0&limit=25"
        times = [timed_get(base, path, cookie).ms for _ in range(rounds)]
        print(f"  {path}: median {statistics.median(times):.1f} ms of {rounds} (min {min(times):.1f})")
    detail = timed_get(base, "/picture/alert?id=surge:bench-9999", cookie)
    times = [timed_get(base, "/picture/alert?id=surge:bench-9999", cookie).ms for _ in range(rounds)]
    print(
        f"  /picture/alert?id=surge:bench-9999 ({detail.status}, {detail.bytes} B): median "
        f"{statistics.median(times):.1f} ms of {rounds}"
    )


def listen(base: str, cookie: str, seconds: float, pulses: list[bytes], refreshes: list[float]) -> None:
    """One page's event stream for `seconds`: the pulses it was sent, and the wall ms of the situation it
    fetches again on each change, as picture.js does."""
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=20)
    connection.request("GET", "/events", headers={"Cookie": cookie, "Accept": "text/event-stream"})
    answer = connection.getresponse()
    ends = time.monotonic() + seconds
    pulse = ""
    while time.monotonic() < ends:
        line = answer.fp.readline()
        if not line:
            break
        if line.startswith(b"id: "):
            pulse = line[4:].strip().decode()
        if line.startswith(b"data: "):
            if pulses and line != pulses[-1]:  # as picture.js: the refresh names the pulse that caused it
                path = f"/picture/situation?span=24h&offset=0&limit=25&pulse={pulse}"
                refreshes.append(timed_get(base, path, cookie).ms)
            pulses.append(line)
    connection.close()


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def live_alerts(
    base: str, cookie: str, broker_url: str, pid: int, pages: int = 8, seconds: float = 60
) -> None:
    """100 alerts a minute arrive (published to the alerts topic, stored by the worker's alerts sink) while
    `pages` event streams listen: how many pulses each page gets (so how many refreshes it makes)."""
    import threading
    from datetime import UTC, datetime, timedelta

    from schemas.alerts import Alert
    from streams.kafka.topics import ALERTS
    from streams.sources.replay import replay_lines

    end = datetime.fromisoformat(END).replace(tzinfo=UTC)
    now = datetime.now(UTC)
    lines = [
        Alert(id=f"surge:live-{i}", version=1, kind="surge", status="new", impact=IMPACTS[i % 4],
              confidence=0.9, zone_id="ES-ALBORAN", route="Western Mediterranean",
              window_start=end - timedelta(minutes=30), window_end=end - timedelta(seconds=i),
              headline=f"live {i}", description="scripts/bench_picture.py", opened_at=now, sent_at=now,
              ).model_dump_json().encode()
        for i in range(int(100 * seconds / 60))
    ]  # fmt: skip
    streams: list[list[bytes]] = [[] for _ in range(pages)]
    refreshes: list[float] = []
    threads = [
        threading.Thread(target=listen, args=(base, cookie, seconds + 5, got, refreshes)) for got in streams
    ]
    idle_from = cpu_s(pid)
    time.sleep(10)
    idle = (cpu_s(pid) - idle_from) / 10
    for thread in threads:
        thread.start()
    busy_from, started = cpu_s(pid), time.monotonic()
    asyncio.run(replay_lines(iter(lines), ALERTS, broker_url, rate_per_s=100 / 60))
    for thread in threads:
        thread.join()
    busy = (cpu_s(pid) - busy_from) / (time.monotonic() - started)
    counts = [len(got) for got in streams]
    same = all(got == streams[0] for got in streams)
    print(f"\n{len(lines)} alerts at 100 a minute, {pages} pages listening for {seconds + 5:.0f} s:")
    print(f"  pulses per page {counts} (the same on every page: {same}); a page refreshes once per pulse")
    if refreshes:
        print(
            f"  {len(refreshes)} refreshes of the situation: median {statistics.median(refreshes):.1f} ms, "
            f"max {max(refreshes):.1f} ms"
        )
    print(
        f"  the worker's CPU: {idle:.2f} s/s idle before, {busy:.2f} s/s during (alerts sink, one pulse "
        "poller, the streams, the pages' refreshes)"
    )


def browser_first_paint(base: str, api: object) -> None:
    """navigationStart → the picture-first-paint mark, in Debian's chromium (cold profile, then reload)."""
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        print("\nno chromium: the browser's own timing is skipped")
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bw-bench-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    flags += ["--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1500,1900"]
    for flag in flags:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(base + api.post("/picture/code", {})["path"])  # type: ignore[attr-defined]
        print("\nthe browser: navigation start → body[data-refreshed] (the picture-first-paint mark)")
        for label in ("first load", "again", "again"):
            driver.get(base + "/")
            mark = None
            deadline = time.monotonic() + 60
            while mark is None and time.monotonic() < deadline:
                mark = driver.execute_script(
                    "const m = performance.getEntriesByName('picture-first-paint');"
                    "return m.length ? m[0].startTime : null;"
                )
                time.sleep(0.05)
            loaded = driver.execute_script(
                "const t = performance.getEntriesByType('navigation')[0]; return t.domContentLoadedEventEnd;"
            )
            print(f"  {label}: DOMContentLoaded {loaded:.0f} ms, first paint {mark:.0f} ms")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def serve_and_time(root: Path) -> None:
    from streams.client.worker_api import start_worker_process, stop_process, wait_for_worker
    from streams.kafka.admin import ensure_topics
    from streams.kafka.broker import free_port, start_local_broker

    data_dir = root / "data"
    with start_local_broker(root / "broker") as broker:
        asyncio.run(ensure_topics(broker.url, partitions=2))
        port = free_port()
        log = root / "worker.log"
        process = start_worker_process(
            log, kafka=broker.url, data_dir=str(data_dir), web_port=str(port), partitions="2",
            worker_id=f"bw-bench-picture-{os.getpid()}",
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            api = wait_for_worker(process, base, data_dir, log, timeout_s=300)
            cookie = session_cookie(base, api)
            time_page_load(base, cookie, "cold (the worker's first)")
            time_page_load(base, cookie, "warm")
            print("\nthe situation alone, and one alert's detail")
            time_situation(base, cookie)
            browser_first_paint(base, api)
            live_alerts(base, cookie, broker.url, process.pid)
        finally:
            stop_process(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="a data dir to fill, or filled by an earlier run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    parser.add_argument("--fill-only", type=Path, help=argparse.SUPPRESS)  # the child that fills
    args = parser.parse_args()
    if args.fill_only:
        fill(args.fill_only)
        return
    root = args.dir or Path(tempfile.mkdtemp(prefix="bw-bench-picture-"))
    data_dir = root / "data"
    try:
        if not (data_dir / "chdb").exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, __file__, "--fill-only", str(data_dir)], check=True)
        serve_and_time(root)
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"\nkept {root}")


if __name__ == "__main__":
    main()
