"""Faults versus poison: bisection finds the bad messages, faults propagate unsplit; undecodable records."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from aiokafka.structs import ConsumerRecord
from clickhouse_connect.driver.exceptions import OperationalError

from schemas.errors import SinkUnavailableError
from schemas.rejection import DeadLetter, Rejected, RejectReason
from streams.sinks.topic_to_table import decode_records
from streams.stages.poison import MAX_KEPT_RAW, error_text, internal_letter, is_fault, isolate_poison

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


class Store:
    """A sink stand-in that refuses any batch holding a poison item, and counts its calls."""

    def __init__(self, poison: set[int], fault: BaseException | None = None) -> None:
        self.poison = poison
        self.fault = fault
        self.calls = 0
        self.stored: list[int] = []

    async def run(self, batch: Sequence[int]) -> None:
        self.calls += 1
        if self.fault is not None:
            raise self.fault
        bad = [item for item in batch if item in self.poison]
        if bad:
            raise ValueError(f"cannot store item {bad[0]}")
        self.stored += batch


def isolate(items: Sequence[int], store: Store) -> list[tuple[int, str]]:
    return asyncio.run(isolate_poison(items, store.run))


def test_a_good_batch_is_run_once_and_nothing_is_poison() -> None:
    store = Store(poison=set())
    assert isolate(range(100), store) == []
    assert store.calls == 1
    assert store.stored == list(range(100))


def test_an_empty_batch_is_not_run() -> None:
    store = Store(poison=set())
    assert isolate([], store) == []
    assert store.calls == 0


def test_one_poison_item_among_100_is_found_and_the_rest_stored() -> None:
    store = Store(poison={37})
    poison = isolate(list(range(100)), store)
    assert [item for item, _ in poison] == [37]
    assert poison[0][1] == "ValueError: cannot store item 37"
    assert sorted(store.stored) == [i for i in range(100) if i != 37]
    assert store.calls <= 2 * 7 + 1  # one whole batch, then two halves per level of a 7-level bisection


@pytest.mark.parametrize("poison", [{0, 99}, {10, 11}, {50, 51}, {3, 97}])
def test_two_poison_items_among_100_are_both_found(poison: set[int]) -> None:
    store = Store(poison=poison)
    found = isolate(list(range(100)), store)
    assert {item for item, _ in found} == poison
    assert sorted(store.stored) == [i for i in range(100) if i not in poison]
    assert store.calls < 100  # bisection, not one call per item


def test_a_single_poison_item_alone_is_returned_not_raised() -> None:
    store = Store(poison={7})
    assert [item for item, _ in isolate([7], store)] == [7]


@pytest.mark.parametrize(
    "fault",
    [ConnectionError("connection reset"), KafkaConnectionError("broker down"), KafkaTimeoutError(),
     OperationalError("ClickHouse is gone"), TimeoutError(), SinkUnavailableError("no ClickHouse")],
)  # fmt: skip
def test_a_fault_propagates_without_bisecting(fault: BaseException) -> None:
    store = Store(poison=set(), fault=fault)
    with pytest.raises(type(fault)):
        isolate(list(range(100)), store)
    assert store.calls == 1
    assert is_fault(fault)


def test_a_fault_met_while_bisecting_propagates_too() -> None:
    class FlakyStore(Store):
        async def run(self, batch: Sequence[int]) -> None:
            self.calls += 1
            if len(batch) == 100:
                raise ValueError("poison somewhere")
            raise KafkaConnectionError("broker went away")

    store = FlakyStore(poison=set())
    with pytest.raises(KafkaConnectionError):
        isolate(list(range(100)), store)
    assert store.calls == 2


def test_a_failure_of_every_item_is_a_fault_not_poison() -> None:
    store = Store(poison=set(range(8)))
    with pytest.raises(SinkUnavailableError, match="every message of a batch of 8 failed"):
        isolate(list(range(8)), store)
    assert store.stored == []


@pytest.mark.parametrize("error", [ValueError("x"), KeyError("x"), TypeError("x"), RuntimeError("x")])
def test_errors_of_one_message_are_not_faults(error: BaseException) -> None:
    assert not is_fault(error)


def test_error_text_is_one_short_line() -> None:
    text = error_text(ValueError("line one\nline two " + "x" * 500))
    assert "\n" not in text
    assert text.startswith("ValueError: line one line two")
    assert len(text) == 200


def test_internal_letter_keeps_the_first_mib_of_a_large_message_and_says_so() -> None:
    raw = b"a" * MAX_KEPT_RAW + b"tail bytes"
    letter = internal_letter(RejectReason.INTERNAL_ERROR, "boom", raw, "reports.raw", 1, 42, NOW)
    assert letter.raw == raw[:MAX_KEPT_RAW]
    assert MAX_KEPT_RAW == 1 << 20
    assert letter.detail == f"boom (first {MAX_KEPT_RAW} of {len(raw)} bytes kept)"
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == ("reports.raw", 1, 42)
    assert letter.reason is RejectReason.INTERNAL_ERROR


def test_internal_letter_keeps_a_message_of_exactly_one_mib_whole() -> None:
    raw = b"b" * MAX_KEPT_RAW
    letter = internal_letter(RejectReason.INTERNAL_ERROR, "boom", raw, "t", 0, 0, NOW)
    assert letter.raw == raw
    assert letter.detail == "boom"


def test_internal_letter_of_a_message_without_value() -> None:
    letter = internal_letter(RejectReason.INTERNAL_ERROR, "no value", None, "t", 0, 5, NOW)
    assert letter.raw == b""


def record(
    value: bytes | None, offset: int, topic: str = "dlq", partition: int = 3
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic, partition=partition, offset=offset, timestamp=0, timestamp_type=0, key=b"k",
        value=value, checksum=None, serialized_key_size=1,
        serialized_value_size=-1 if value is None else len(value), headers=[],
    )  # fmt: skip


def test_decode_records_keeps_valid_ones_and_dead_letters_the_rest() -> None:
    valid = DeadLetter.of(
        Rejected(reason=RejectReason.INVALID_JSON, detail="bad"), b"{", "reports.raw", 0, 9, NOW
    )
    garbage = b"\xff\xfe not json {"
    records = [
        record(garbage, 10),
        record(None, 11),
        record(valid.model_dump_json().encode(), 12),
        record(b'{"reason": "invalid_json"}', 13),  # JSON, but not a DeadLetter
        record(b"[" * 100_000, 14),  # nesting deep enough to trip the JSON parser's recursion limit
    ]
    good, bad = decode_records(records, DeadLetter)
    assert good == [valid]
    assert [(d.source_topic, d.source_partition, d.source_offset) for d in bad] == [
        ("dlq", 3, 10), ("dlq", 3, 11), ("dlq", 3, 13), ("dlq", 3, 14),
    ]  # fmt: skip
    assert {d.reason for d in bad} == {RejectReason.UNDECODABLE_RECORD}
    assert bad[0].raw == garbage
    assert base64.b64decode(bad[0].raw_b64) == garbage
    assert bad[1].raw == b""
    assert "no value" in bad[1].detail
    assert all(d.detail.startswith("a dlq record was refused: not a DeadLetter") for d in bad)


def test_decode_records_of_nothing() -> None:
    assert decode_records([], DeadLetter) == ([], [])
