"""Faust adapter: a table seen by one batch, its changes written to the changelog in one go.

Faust writes one changelog record per assignment through its own producer, at
about 70 CPU µs each here (16 µs to assign, the rest to send), which is most
of what the detectors would cost. A batch instead reads through to the table's
store, keeps its writes, and `flush` puts them in the store and sends them to
the changelog partition as record batches, awaiting the broker before the
agent moves on, so Faust never commits the input offset of a batch whose
state is not in the changelog. The records are encoded as Faust's JSON codec
encodes them, so Faust's own recovery reads them back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from typing import Any

from schemas.codec import encode_obj
from streams.kafka.clients import KafkaEventPublisher

_DELETED = object()


class BatchedTable(MutableMapping[str, Any]):
    """Reads from a Faust table's store; writes are kept until `flush`."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.store = table.data
        self.changes: dict[str, Any] = {}
        self.cpu_s = 0.0  # CPU spent building the last flush's records

    def __getitem__(self, key: str) -> Any:
        if key in self.changes:
            value = self.changes[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        return self.store[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.changes[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.changes[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        if key in self.changes:
            return self.changes[key] is not _DELETED
        return key in self.store

    def __iter__(self) -> Iterator[str]:
        # Over a copy, taken in one step: the detectors run on a thread of their own, and Faust may apply
        # standby replicas' changelog records to the same store on the event loop meanwhile.
        for key in list(self.store):
            if self.changes.get(key) is not _DELETED:
                yield key
        for key, value in self.changes.items():
            if value is not _DELETED and key not in self.store:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        """Every (key, value), with this batch's changes applied (over a copy, as `__iter__`)."""
        for key, value in list(self.store.items()):
            change = self.changes.get(key, value)
            if change is not _DELETED:
                yield key, change
        for key, value in self.changes.items():
            if value is not _DELETED and key not in self.store:
                yield key, value

    async def flush(self, partition: int, publisher: KafkaEventPublisher) -> int:
        """Apply the changes to the store and the changelog partition; returns how many."""
        if not self.changes:
            return 0
        started = time.thread_time()
        records: list[tuple[bytes, bytes | None]] = []
        for key, value in self.changes.items():
            if value is _DELETED:
                self.store.pop(key, None)
                records.append((encode_obj(key), None))
            else:
                self.store[key] = value
                records.append((encode_obj(key), encode_obj(value)))
        topic = self.table.changelog_topic.get_topic_name()
        self.cpu_s = time.thread_time() - started
        # The last record goes in a batch of its own: Tansu answers ListOffsets with
        # the last record batch's base offset + 1, and Faust's recovery reads only
        # up to that "end" (checked here: after one batch of 3 records, end offset 1).
        if len(records) > 1:
            await publisher.publish_records(topic, partition, records[:-1])
        await publisher.publish_records(topic, partition, records[-1:])
        count = len(self.changes)
        self.changes = {}
        return count
