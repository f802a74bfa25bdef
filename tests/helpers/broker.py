"""Fixtures: one Tansu per test process, emptied for each test that uses it.

A broker starts in a tenth of a second, so sharing it saves little time; what it saves is a process per
test. Borderwatch's topic names are fixed, so a test that shares the broker gets every topic deleted and
made again, empty, before it starts. Consumer groups and changelog topics are named after the worker id,
which is new for every worker (tests/helpers/workers.py), and data dirs are each test's own tmp_path.
A test whose workers outlive it (module- or session-scoped) or that stops, restarts or fronts the broker
starts a Tansu of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from streams.kafka.admin import ensure_topics
from streams.kafka.broker import LocalBroker, start_local_broker
from streams.kafka.security import as_connection, start_client


async def empty_broker(url: str, partitions: int) -> None:
    """Delete every topic on the broker, then make borderwatch's topics again, empty."""
    from aiokafka.admin import AIOKafkaAdminClient

    connection = as_connection(url)
    admin = AIOKafkaAdminClient(**connection.client_kwargs())
    await start_client(admin, connection)
    try:
        if existing := await admin.list_topics():
            await admin.delete_topics(list(existing))
        assert await admin.list_topics() == [], "Tansu kept a deleted topic"
    finally:
        await admin.close()
    await ensure_topics(url, partitions=partitions)


@pytest.fixture(scope="session")
def shared_tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """The Tansu of this test process; tests get it through `broker`, emptied."""
    with start_local_broker(tmp_path_factory.mktemp("tansu")) as local:
        yield local


@pytest.fixture
def broker(shared_tansu: LocalBroker) -> LocalBroker:
    """The shared Tansu, emptied, with borderwatch's topics of 2 partitions each."""
    asyncio.run(empty_broker(shared_tansu.url, partitions=2))
    return shared_tansu
