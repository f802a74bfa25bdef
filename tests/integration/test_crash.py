"""A worker killed with SIGKILL mid-replay and restarted still produces exact counts."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.make_sample_feed import generate
from streams.kafka.topics import INTERCEPTIONS
from tests.helpers.counts import stored_counts
from tests.helpers.kafka_io import send

pytestmark = pytest.mark.slow  # 20,000 reports and a kill -9: over a minute


def test_sigkill_mid_replay_then_restart_gives_exact_counts(broker: Any, start_worker: Any) -> None:
    feed = generate(scale=90, vessels=0)
    reports, _ = feed.expected_totals()
    assert reports >= 20_000
    worker = start_worker(batch_size="500")
    sent = send(broker, INTERCEPTIONS, feed.interceptions)
    status = worker.wait_until(lambda s: s["processed"] >= sent // 3)
    assert status["processed"] < sent, "the worker finished before it could be killed"
    worker.kill()

    restarted = start_worker()
    restarted.wait_until(lambda s: s["events"] >= reports and s["rejects"] >= feed.bad_lines, timeout_s=300)
    assert stored_counts(restarted) == feed.expected
    status = restarted.status()
    assert (status["events"], status["rejects"]) == (reports, feed.bad_lines)
    # Exact without FINAL: the replayed batches after the kill stored no row twice.
    plain = restarted.sql(
        "SELECT (SELECT count() FROM borderwatch.events), (SELECT count() FROM borderwatch.rejects)"
    )
    assert plain == [[reports, feed.bad_lines]]


def test_a_worker_rebuilds_counts_that_disagree_with_events(
    broker: Any, start_worker: Any, tmp_path: Any
) -> None:
    import subprocess
    import sys

    feed = generate(scale=0.3, vessels=0)
    worker = start_worker()
    sent = send(broker, INTERCEPTIONS, feed.interceptions)
    worker.wait_until(lambda s: s["events"] + s["rejects"] + s["duplicates"] >= sent)
    worker.stop()
    # What a kill between the events insert and its view's insert leaves behind.
    damage = (
        "import clickhouse_connect, sys; c = clickhouse_connect.get_client(dsn=sys.argv[1]); "
        "c.command('DELETE FROM borderwatch.crossing_counts WHERE crossing_id = %(c)s', "
        "parameters={'c': 'IT-LAMPEDUSA'})"
    )
    dsn = f"chdb://{(tmp_path / 'data' / 'chdb').resolve()}"
    subprocess.run([sys.executable, "-c", damage, dsn], check=True, timeout=60)

    restarted = start_worker()
    assert stored_counts(restarted) == feed.expected
    assert "crossing_counts disagreed with events after a crash; repaired it" in restarted.log.read_text()
