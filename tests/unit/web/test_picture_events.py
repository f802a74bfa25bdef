"""The picture's pulse hub (streams/web/picture_events.py) on a real analyst session over chdb: one poller
feeds every stream, and a revocation wakes every stream to check its session, from the reloading thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from streams.analyst.limits import AnalystLimits
from streams.analyst.session import AnalystSession
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.web.picture_events import PulseAnswers, PulseHub

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


def test_pages_asking_the_same_for_the_same_pulse_share_one_query() -> None:
    answers = PulseAnswers()
    asked: list[str] = []
    release = threading.Event()

    def situation(name: str) -> Callable[[], dict[str, str]]:
        def call() -> dict[str, str]:
            asked.append(name)
            release.wait(30)
            return {"answer": name}

        return call

    got: list[dict[str, str]] = []
    pages = [threading.Thread(target=lambda: got.append(answers.shared("p1", "span=24h", situation("a"))()))
             for _ in range(4)]  # fmt: skip
    for page in pages:
        page.start()
    release.set()
    for page in pages:
        page.join()
    assert asked == ["a"] and got == [{"answer": "a"}] * 4 and answers.made == 1
    assert answers.shared("p1", "span=7d", situation("b"))() == {"answer": "b"}  # another question
    assert answers.shared("p2", "span=24h", situation("c"))() == {"answer": "c"}  # a new pulse asks again
    assert asked == ["a", "b", "c"]


def test_a_failed_answer_is_asked_again() -> None:
    answers = PulseAnswers()
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError("the first try timed out")
        return 7

    with pytest.raises(TimeoutError):
        answers.shared("p", "q", flaky)()
    assert answers.shared("p", "q", flaky)() == 7 and len(calls) == 2
