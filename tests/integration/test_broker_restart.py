"""A broker restarted without its log: the worker stops, and its successor knows resends as resends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.make_sample_feed import generate
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import LocalBroker, free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS
from streams.sources.replay import replay_lines
from tests.helpers.counts import stored_counts


class RestartableBroker:
    """The bundled Tansu on one port, which the test can restart: it comes back empty."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.local = self._start()

    @property
    def url(self) -> str:
        return self.local.url

    def _start(self) -> LocalBroker:
        local = start_local_broker(self.root, port=self.port)
        asyncio.run(ensure_topics(local.url, partitions=2))
        return local

    def restart(self) -> None:
        self.local.stop()
        self.local = self._start()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RestartableBroker]:
    restartable = RestartableBroker(tmp_path / "broker")
    yield restartable
    restartable.local.stop()


def test_after_a_broker_restart_resends_stay_resends_and_new_dead_letters_are_kept(
    broker: RestartableBroker, start_worker: Any
) -> None:
    feed = generate(scale=4, vessels=0)
    reports, _ = feed.expected_totals()
    lines = feed.interceptions
    first = start_worker(fault_limit_s="60")
    asyncio.run(replay_lines(iter(lines), INTERCEPTIONS, broker.url))
    first.wait_until(lambda s: s["events"] >= reports and s["rejects"] >= feed.bad_lines)
    assert "broker_restarted" not in first.status()

    broker.restart()
    # Its offsets and consumer positions name nothing in the new log: it stops at once,
    # long before the fault limit, and says why.
    assert first.process.wait(timeout=60) != 0
    assert "it was restarted without its log" in first.log.read_text()

    second = start_worker(fault_limit_s="60")
    note = second.status()["broker_restarted"]
    assert "new to this data" in note and "detectors' state" in note, note
    # The same lines again, at the same offsets of the new log: resends, every accepted one.
    asyncio.run(replay_lines(iter(lines), INTERCEPTIONS, broker.url))
    status = second.wait_until(lambda s: s["processed"] >= len(lines) and s["rejects"] >= 2 * feed.bad_lines)
    assert status["duplicates"] == len(lines) - feed.bad_lines, status
    assert stored_counts(second) == feed.expected
    # The bad lines are new messages in the new log, each a dead letter of its own.
    plain = second.sql(
        "SELECT (SELECT count() FROM borderwatch.events), (SELECT count() FROM borderwatch.rejects)"
    )
    assert plain == [[reports, 2 * feed.bad_lines]]
