"""BatchedTable's changelog records, written to the real broker and read back."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson

from streams.detect.columns import partition_of
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import LocalBroker
from streams.kafka.clients import KafkaEventPublisher
from streams.state.batched_table import BatchedTable
from tests.helpers.kafka_io import read_all

CHANGELOG = "bw-test-groups-changelog"


def table() -> Any:
    """What BatchedTable reads of a Faust table: its store and its changelog topic's name."""
    return SimpleNamespace(data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG))


async def write(url: str, store: Any, key_partitions: int | None) -> list[tuple[int, str, Any]]:
    """Two batches, from partitions 0 and 1, writing the same keys; each record: (partition, key, value)."""
    await ensure_topics(url, partitions=2, topics=(CHANGELOG,))
    publisher = KafkaEventPublisher(url)
    await publisher.start()
    try:
        first = BatchedTable(store, key_partitions)
        first["pair-a"], first["pair-d"] = {"version": 1}, {"version": 1}
        await first.flush(0, publisher)
        second = BatchedTable(store, key_partitions)
        second["pair-a"] = {"version": 2}
        del second["pair-d"]
        await second.flush(1, publisher)
    finally:
        await publisher.stop()
    records = await read_all(url, CHANGELOG, quiet_s=1.0)
    return [
        (r.partition, orjson.loads(r.key), None if r.value is None else orjson.loads(r.value))
        for r in sorted(records, key=lambda r: (r.partition, r.offset))
    ]


def test_a_key_written_from_two_partitions_has_every_record_on_its_own_partition(broker: LocalBroker) -> None:
    # Recovery reads each changelog partition in turn: a key's records on two partitions could be
    # restored in either order, the older one last.
    store = table()
    records = asyncio.run(write(broker.url, store, key_partitions=2))
    for key in ("pair-a", "pair-d"):
        mine = [(p, value) for p, k, value in records if k == key]
        assert {p for p, _ in mine} == {partition_of(key, 2)}
        assert [value for _, value in mine] == (
            [{"version": 1}, {"version": 2}] if key == "pair-a" else [{"version": 1}, None]
        )
    assert store.data == {"pair-a": {"version": 2}}


def test_without_key_partitions_each_batch_writes_to_its_own_partition(broker: LocalBroker) -> None:
    records = asyncio.run(write(broker.url, table(), key_partitions=None))
    assert [(p, k) for p, k, _ in records] == [(0, "pair-a"), (0, "pair-d"), (1, "pair-a"), (1, "pair-d")]


def test_iterating_a_view_survives_the_store_changing_meanwhile() -> None:
    # Detection runs on a thread of its own while Faust may write standby records to the same store.
    store = table()
    store.data.update({"a": 1, "b": 2})
    view = BatchedTable(store)
    view["c"] = 3
    for iterate in (view.items, view.__iter__):
        walk = iterate()
        first = next(walk)
        store.data["standby"] = 0
        assert [first, *walk] in (
            [("a", 1), ("b", 2), ("c", 3)],
            ["a", "b", "c"],
        )  # the view when the walk began
        del store.data["standby"]
