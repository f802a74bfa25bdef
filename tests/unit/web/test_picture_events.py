"""The picture's pulse hub (streams/web/picture_events.py) on a real analyst session over chdb: one poller
feeds every stream, and a revocation wakes every stream to check its session, from the reloading thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from streams.analyst.limits import AnalystLimits
from streams.analyst.session import AnalystSession
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.web.picture_events import PulseHub

DB = "borderwatch"


@pytest.fixture(scope="module")
def analyst(engine_dir: Path) -> Iterator[AnalystSession]:
    opened: list[Client] = []

    def open_client() -> Client:
        opened.append(connect(f"chdb://{engine_dir}"))
        return opened[-1]

    migrate(open_client(), DB)
    session = AnalystSession(open_client, DB, AnalystLimits())
    try:
        yield session
    finally:
        session.close()
        for client in opened:
            with contextlib.suppress(Exception):
                client.close()


def test_one_poller_feeds_every_stream_and_a_revocation_wakes_them_all(analyst: AnalystSession) -> None:
    async def run() -> None:
        hub = PulseHub(analyst, poll_s=0.05)
        first, second = hub.join(), hub.join()
        assert first is not None and second is not None
        pulses = [await asyncio.wait_for(queue.get(), 30) for queue in (first, second)]
        assert pulses[0] == pulses[1] and pulses[0] is not None
        assert set(orjson.loads(pulses[0])) == {
            "events",
            "newest",
            "alert_states",
            "alerts_changed",
            "rejects",
        }
        second.put_nowait(b"a pulse not read yet")
        waker = threading.Thread(target=hub.recheck)  # as POST /reload does, from its thread
        waker.start()
        waker.join()
        assert await asyncio.wait_for(first.get(), 30) == b""  # woken to check its session
        assert second.get_nowait() == b"a pulse not read yet"  # a waiting pulse is kept, not replaced
        await hub.close()
        assert await asyncio.wait_for(first.get(), 30) is None and hub.join() is None

    asyncio.run(run())
