"""/metrics on a real worker: Prometheus' text format, counters that agree with ClickHouse, and who may
scrape."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka.topics import INTERCEPTIONS
from streams.web.tokens import hash_token
from tests.helpers.kafka_io import send

SCRAPER = "tok-prometheus-0123456789abcdef"
GOOD = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
        "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip


def samples(text: str) -> dict[str, list[Any]]:
    """Every sample of the exposition by its name (with _total and _bucket suffixes)."""
    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def total(found: dict[str, list[Any]], name: str, **labels: str) -> float:
    return sum(
        s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())
    )


def scrape(worker: Any, token: str, path: str = "/metrics") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(worker.base_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_metrics_count_what_clickhouse_stored_and_a_scrape_token_reads_only_them(
    start_worker: Any, broker: Any, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(f'[[token]]\nname = "prometheus"\nrole = "scrape"\nsha256 = "{hash_token(SCRAPER)}"\n')
    worker = start_worker(web_tokens_file=str(tokens), log_format="json")
    good = [orjson.dumps({**GOOD, "report_id": f"m-{n}"}) for n in range(20)]
    negative = [orjson.dumps({**GOOD, "report_id": f"m-bad-{n}", "persons": -1}) for n in range(3)]
    lines = [*good, *negative, b"not json", good[0], good[1]]  # two resends
    send(broker, INTERCEPTIONS, lines)
    worker.wait_until(lambda s: s["events"] >= 20 and s["rejects"] >= 4 and s["processed"] >= len(lines))

    assert worker.api is not None
    text = worker.api.get_text("/metrics")
    assert text is not None
    found = samples(text)
    events = worker.sql("SELECT count() FROM borderwatch.events")[0][0]
    rejects = worker.sql("SELECT count() FROM borderwatch.rejects")[0][0]
    assert total(found, "borderwatch_reports_stored_total") == events == 20
    assert total(found, "borderwatch_reports_rejected_total") == rejects == 4
    assert total(found, "borderwatch_reports_rejected_total", reason="negative_count") == 3
    assert total(found, "borderwatch_report_resends_total", stage="ingest") == 2
    assert total(found, "borderwatch_reports_in_total", stage="ingest") == len(lines)
    assert total(found, "borderwatch_report_to_clickhouse_seconds_count") == 20
    assert total(found, "borderwatch_batch_seconds_count", stage="ingest") >= 1
    assert total(found, "borderwatch_healthy") == 1
    assert total(found, "borderwatch_part_state", part="ingest", state="ok") == 1
    lagging = {(s.labels["part"], s.labels["topic"]) for s in found["borderwatch_consumer_lag"]}
    assert ("ingest", INTERCEPTIONS) in lagging

    status, scraped = scrape(worker, SCRAPER)
    assert status == 200 and "borderwatch_reports_stored_total 20.0" in scraped
    assert worker.api.get("/status")  # the data dir's token: every endpoint
    refused, _ = scrape(worker, "tok-not-a-token-000000000000")
    assert refused == 401
    assert scrape(worker, SCRAPER, "/status")[0] == 403
    lag = worker.status()["lag"]
    assert f"{INTERCEPTIONS}[0]" in lag["ingest"]
    # One format for the worker's own lines and Faust's: every line of its log is a JSON object.
    lines_logged = [orjson.loads(line) for line in worker.log.read_text().splitlines() if line.strip()]
    loggers = {line["logger"].split(".")[0] for line in lines_logged}
    assert {"faust", "streams"} <= loggers, loggers
