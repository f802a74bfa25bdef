"""The stage runner's slot: batches merged while they wait are what one batch of all their records gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from geo.catalogue import builtin_path, load_catalogue
from schemas.limits import DEFAULT_LIMITS, MAX_MESSAGE_BYTES
from streams.stages.ingest import Ingest
from streams.stages.runner import BatchSlot, PreparedBatch, merged
from tests.helpers.stage_outputs import records

NOW = datetime(2025, 5, 1, 12, tzinfo=UTC)


def ingest() -> Ingest:
    return Ingest(load_catalogue(builtin_path()), MAX_MESSAGE_BYTES, DEFAULT_LIMITS)


def outcome(batch: PreparedBatch) -> dict[str, Any]:
    """What the forward and the commit read of a batch."""
    return {
        "records": [(r.topic, r.partition, r.offset) for r in batch.records],
        "events": [(e.identity, e.source, e.raw) for e in batch.events],
        "dead_letters": [
            (d.source_topic, d.source_partition, d.source_offset, d.reason) for d in batch.dead_letters
        ],
        "in_batch_copies": batch.in_batch_copies,
    }


def test_merged_pieces_equal_one_batch_of_the_sample_feed_with_its_resends_and_malformed_lines() -> None:
    stage, feed = ingest(), records()
    whole = stage.prepare(feed, NOW)  # type: ignore[arg-type]  # Record has the fields prepare reads
    assert whole.in_batch_copies > 0 and whole.dead_letters  # the feed has resends and bad lines
    pieces = [feed[i : i + 37] for i in range(0, len(feed), 37)]
    built = stage.prepare(pieces[0], NOW)  # type: ignore[arg-type]
    for piece in pieces[1:]:
        built = merged(built, stage.prepare(piece, NOW))  # type: ignore[arg-type]
    assert outcome(built) == outcome(whole)


def test_a_report_in_both_batches_keeps_its_first_copy_and_the_second_counts_as_a_copy() -> None:
    stage, feed = ingest(), records()
    first = stage.prepare(feed[:50], NOW)  # type: ignore[arg-type]
    again = stage.prepare(feed[:50], NOW)  # type: ignore[arg-type]
    both = merged(first, again)
    assert [e.source for e in both.events] == [e.source for e in first.events]
    assert both.in_batch_copies == 2 * first.in_batch_copies + len(first.events)
    assert len(both.records) == 100 and len(both.dead_letters) == 2 * len(first.dead_letters)


def test_the_slot_merges_until_taken_and_has_no_room_past_its_limit() -> None:
    stage, feed = ingest(), records()
    slot = BatchSlot(limit=60)
    assert slot.room() == 60 and slot.take() is None
    slot.add(stage.prepare(feed[:40], NOW))  # type: ignore[arg-type]
    assert slot.filled.is_set() and slot.room() == 20
    slot.add(stage.prepare(feed[40:60], NOW))  # type: ignore[arg-type]
    assert slot.room() == 0
    taken = slot.take()
    assert taken is not None and len(taken.records) == 60
    assert slot.emptied.is_set() and not slot.filled.is_set() and slot.room() == 60
    assert slot.take() is None
