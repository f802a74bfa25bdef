"""Faust adapter: a detector table's changelog is input too; what does not decode stays out of the table.

Faust decodes a changelog record during recovery, and a record its codec
cannot read stops that partition's recovery for good. The detector tables
therefore use a JSON codec that never raises, and each table's recovery
passes its records through a check of the shape the detectors read: a record
that fails is kept out of the table and becomes a dead letter with its topic,
partition and offset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from faust.serializers import codecs

from schemas.rejection import DeadLetter
from streams.stages.dead_letters import undecodable_letter

CODEC = "borderwatch-json"


class _Undecodable:
    """What the codec returns for bytes that are not JSON."""

    def __repr__(self) -> str:
        return "<undecodable>"


UNDECODABLE = _Undecodable()


class SafeJsonCodec(codecs.Codec):
    """Faust's JSON, except that bad bytes decode to UNDECODABLE instead of raising."""

    def _loads(self, s: bytes) -> Any:
        try:
            return orjson.loads(s)
        except (orjson.JSONDecodeError, TypeError):
            return UNDECODABLE

    def _dumps(self, s: Any) -> bytes:
        return orjson.dumps(s)


codecs.register(CODEC, SafeJsonCodec())


def guard_changelog(
    table: Any, accepts: Callable[[Any], bool], refused: Callable[[DeadLetter], None]
) -> None:
    """Read `table`'s changelog with the safe codec, and keep records that `accepts` refuses out of it.

    Call before the app starts: Faust subscribes to the changelog topic object then.
    """
    table.key_serializer = CODEC
    table.value_serializer = CODEC
    table.changelog_topic = table._new_changelog_topic()  # the first one was made with Faust's json
    apply = table.apply_changelog_batch

    def apply_checked(batch: Iterable[Any]) -> None:
        good = []
        for event in batch:
            message = event.message
            tombstone = message.value is None
            if isinstance(event.key, str) and (tombstone or accepts(event.value)):
                good.append(event)
                continue
            why = f"not a state of this table (key {event.key!r:.60})"
            refused(undecodable_letter(
                message.topic, message.partition, message.offset, message.value, why, datetime.now(UTC)
            ))  # fmt: skip
        apply(good)

    table.apply_changelog_batch = apply_checked
