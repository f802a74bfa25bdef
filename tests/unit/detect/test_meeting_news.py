"""Encounter findings held per pair until every cells partition has passed their time."""

from __future__ import annotations

import math

import orjson
import pytest

from schemas.alerts import AlertKind
from streams.detect.clock import sent_wall_time
from streams.detect.columns import partition_of
from streams.detect.findings import Finding
from streams.detect.meeting_news import (
    DatedFinding,
    MeetingHold,
    MeetingNews,
    decode_news,
    hold_from_json,
    hold_to_json,
    news_for_partitions,
    take_news,
)
from streams.detect.runtime import is_meeting_hold

N = 4
IDLE_S = 900.0
ENCOUNTER = {"kind": "encounter", "group": "a+b", "ts": 1.0}


def met(pair: str, ts: float, active: bool = True) -> DatedFinding:
    return DatedFinding(
        ts, Finding(AlertKind.ENCOUNTER, pair, ts, active=active, vessel_ids=tuple(pair.split("+")))
    )


def pair_on(partition: int) -> str:
    """A pair whose group lives on `partition`."""
    return next(f"{n}+{n + 1}" for n in range(1000) if partition_of(f"encounter:{n}+{n + 1}", N) == partition)


def news(
    source: int, offset: int, mark_ts: float, found: list[DatedFinding], to: int, sent_ts: float = 1e9
) -> MeetingNews:
    """What cells partition `source` sends meetings partition `to`, decoded as the agent decodes it."""
    raw = dict(news_for_partitions(source, offset, sent_ts, mark_ts, found, N))[to]
    return decode_news(raw, N)


def test_each_meetings_partition_hears_every_mark_and_only_the_findings_of_its_pairs() -> None:
    here, there = pair_on(1), pair_on(2)
    sent = dict(news_for_partitions(3, 17, 1e9, 100.0, [met(here, 90.0), met(there, 95.0)], N))
    assert sorted(sent) == [0, 1, 2, 3]
    decoded = {p: decode_news(raw, N) for p, raw in sent.items()}
    assert {p: (n.source, n.offset, n.mark_ts) for p, n in decoded.items()} == dict.fromkeys(
        range(N), (3, 17, 100.0)
    )
    assert [h.finding.group for h in decoded[1].found] == [here]
    assert [h.finding.group for h in decoded[2].found] == [there]
    assert decoded[0].found == decoded[3].found == ()
    assert decoded[1].found[0].finding == met(here, 90.0).finding  # the whole finding, through JSON


def test_a_finding_waits_until_every_cells_partition_has_passed_its_time_then_goes_oldest_first() -> None:
    pair, hold = pair_on(0), MeetingHold()
    # The partition of the pair's later cells runs first, hours ahead.
    released = take_news(hold, [news(3, 0, 5000.0, [met(pair, 4000.0)], to=0)], N, IDLE_S)
    assert released.findings == [] and released.watermark_ts == -math.inf
    for source in (0, 1):
        assert take_news(hold, [news(source, 0, 5000.0, [], to=0)], N, IDLE_S).findings == []
    # The last partition brings the pair's first cell: its older news goes first.
    released = take_news(hold, [news(2, 0, 5000.0, [met(pair, 1000.0)], to=0)], N, IDLE_S)
    assert [f.ts for f in released.findings] == [1000.0, 4000.0]
    assert released.watermark_ts == 5000.0 and hold.held == []


def test_only_what_the_watermark_has_passed_goes_and_the_rest_waits() -> None:
    pair, hold = pair_on(0), MeetingHold()
    for source in range(N):
        take_news(hold, [news(source, 0, 100.0, [], to=0)], N, IDLE_S)
    take_news(hold, [news(0, 1, 300.0, [met(pair, 150.0), met(pair, 250.0)], to=0)], N, IDLE_S)
    released = take_news(
        hold, [news(1, 1, 200.0, [], to=0), news(2, 1, 400.0, [], to=0), news(3, 1, 180.0, [], to=0)], N,
        IDLE_S,
    )
    assert [f.ts for f in released.findings] == [150.0] and released.watermark_ts == 180.0
    assert [h.found_ts for h in hold.held] == [250.0]


def test_a_finding_held_for_the_idle_time_of_send_time_goes_though_a_partition_lags() -> None:
    # Cells partition 3 is stuck at 100 (unread, or its clock not live); the others go on.
    pair, hold = pair_on(0), MeetingHold()
    for source in range(N):
        take_news(hold, [news(source, 0, 100.0, [], to=0, sent_ts=1e9)], N, IDLE_S)
    take_news(hold, [news(0, 1, 500.0, [met(pair, 400.0)], to=0, sent_ts=1e9 + 10)], N, IDLE_S)
    waiting = take_news(hold, [news(1, 1, 600.0, [], to=0, sent_ts=1e9 + IDLE_S)], N, IDLE_S)
    assert waiting.findings == [] and waiting.watermark_ts == 100.0
    gone = take_news(hold, [news(3, 1, 100.0, [], to=0, sent_ts=1e9 + 10 + IDLE_S)], N, IDLE_S)
    assert [f.ts for f in gone.findings] == [400.0] and gone.watermark_ts == 400.0 and hold.held == []


def test_a_finding_older_than_the_watermark_goes_at_once() -> None:
    pair, hold = pair_on(0), MeetingHold()
    for source in range(N):
        take_news(hold, [news(source, 0, 1000.0, [], to=0)], N, IDLE_S)
    late = take_news(hold, [news(1, 1, 1000.0, [met(pair, 10.0)], to=0)], N, IDLE_S)  # a fix reported late
    assert [f.ts for f in late.findings] == [10.0]


def test_findings_of_one_time_go_in_the_order_of_their_source_and_then_as_found() -> None:
    pair, hold = pair_on(0), MeetingHold()
    take_news(hold, [news(2, 0, 50.0, [met(pair, 50.0), met(pair, 50.0, active=False)], to=0)], N, IDLE_S)
    take_news(hold, [news(1, 0, 50.0, [met(pair, 50.0, active=False)], to=0)], N, IDLE_S)
    take_news(hold, [news(0, 0, 50.0, [], to=0)], N, IDLE_S)
    released = take_news(hold, [news(3, 0, 50.0, [], to=0)], N, IDLE_S)
    assert [f.active for f in released.findings] == [False, True, False]  # source 1's, then 2's in order


def test_news_taken_once_is_skipped_when_a_crashed_cells_batch_sends_it_again() -> None:
    pair, hold = pair_on(0), MeetingHold()
    for source in range(1, N):
        take_news(hold, [news(source, 0, 100.0, [], to=0)], N, IDLE_S)
    first = take_news(hold, [news(0, 7, 100.0, [met(pair, 90.0)], to=0)], N, IDLE_S)
    again = take_news(hold, [news(0, 7, 100.0, [met(pair, 90.0)], to=0)], N, IDLE_S)
    assert len(first.findings) == 1 and again.findings == []


def test_a_mark_never_goes_back_and_a_source_without_a_clock_holds_everything() -> None:
    pair, hold = pair_on(0), MeetingHold()
    take_news(hold, [news(1, 0, 100.0, [met(pair, 50.0)], to=0)], N, IDLE_S)
    for source in range(2, N):
        take_news(hold, [news(source, 0, 100.0, [], to=0)], N, IDLE_S)
    assert take_news(hold, [news(0, 0, -math.inf, [], to=0)], N, IDLE_S).findings == []  # no clock yet
    released = take_news(hold, [news(0, 1, 100.0, [], to=0)], N, IDLE_S)
    assert [f.ts for f in released.findings] == [50.0] and released.watermark_ts == 100.0
    take_news(hold, [news(0, 2, 60.0, [], to=0)], N, IDLE_S)  # an older mark moves nothing back
    assert hold.watermark(N) == 100.0


def test_a_finding_dated_after_the_mark_it_came_with_is_no_news_from_a_cells_partition() -> None:
    raw = dict(news_for_partitions(0, 0, 1e9, 100.0, [met(pair_on(0), 1e15)], N))[0]
    with pytest.raises(ValueError, match="after its own mark"):
        decode_news(raw, N)


def test_a_hold_goes_through_its_table_value_unchanged() -> None:
    pair, hold = pair_on(0), MeetingHold()
    take_news(hold, [news(2, 5, 300.0, [met(pair, 250.0)], to=0)], N, IDLE_S)
    value = orjson.loads(orjson.dumps(hold_to_json(hold)))  # as Faust's JSON changelog keeps it
    assert hold_from_json(value) == hold
    assert is_meeting_hold(value)
    assert hold_from_json(None) == MeetingHold()


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {"x": 1},
        {"marks": "x"},
        {"marks": {"a": 1.0}},
        {"held": [{"found_ts": 1}]},
        {"sources": {"0": {"offset": "z", "sent_ts": 1.0, "mark_ts": 1.0}}},
        {"held": [{"found_ts": 1.0, "source": 0, "seq": 0, "sent_ts": 1e9, "finding": ENCOUNTER, "x": 1}]},
    ],
)
def test_a_changelog_value_that_is_no_hold_is_refused(value: object) -> None:
    assert not is_meeting_hold(value)


def raw_news(found: dict[str, object] | None = None, **fields: object) -> bytes:
    """News from cells partition 0 as JSON, with `fields` changed, and one finding changed by `found`."""
    item = {"found_ts": 1.0, "source": 0, "seq": 0, "sent_ts": 1e9, "finding": ENCOUNTER, **(found or {})}
    news = {"source": 0, "offset": 0, "sent_ts": 1e9, "mark_ts": 1.0, "found": [item] if found else []}
    return orjson.dumps({**news, **fields})


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        b"{}",
        b"[" * 5000,
        raw_news(source=N),
        raw_news(source=-1),
        raw_news(offset=-3),
        raw_news(mark_ts="soon"),
        b'{"source": 0, "offset": 0, "sent_ts": 1e9, "mark_ts": Infinity, "found": []}',
        b'{"source": 0, "offset": 0, "sent_ts": 1e9, "mark_ts": NaN, "found": []}',
        raw_news({"source": 9}),
        raw_news({"source": 1}),  # another source's finding
        raw_news({"sent_ts": 2e9}),  # sent with other news
        raw_news({"found_ts": 5.0}),  # found after the mark it came with
        raw_news({"finding": {**ENCOUNTER, "kind": "no_such_kind"}}),
        raw_news({"finding": {**ENCOUNTER, "kind": "surge"}}),  # grouped here, it would open a surge
        raw_news({"finding": {**ENCOUNTER, "impact": "apocalyptic"}}),
        raw_news({"finding": {**ENCOUNTER, "command": "x"}}),
        raw_news({"finding": {**ENCOUNTER, "ts": "NaN"}}),
        raw_news(more=1),
    ],
)
def test_news_that_is_not_news_from_a_cells_partition_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_news(raw, N)


@pytest.mark.parametrize("taken_offset", [5000, 10**15])
def test_news_of_a_cells_topic_made_again_with_offsets_from_zero_is_taken(taken_offset: int) -> None:
    # The dedupe kept each source's highest offset for ever: once the cells topic was made again (offsets
    # from 0), or one record said offset 10**15, that source's news was skipped and every finding held.
    pair, hold = pair_on(0), MeetingHold()
    for source in range(N):
        take_news(hold, [news(source, taken_offset if source == 0 else 0, 100.0, [], to=0)], N, IDLE_S)
    for source in range(1, N):
        take_news(hold, [news(source, 1, 300.0, [], to=0, sent_ts=2e9)], N, IDLE_S)
    released = take_news(hold, [news(0, 0, 300.0, [met(pair, 200.0)], to=0, sent_ts=2e9)], N, IDLE_S)
    assert [f.ts for f in released.findings] == [200.0]
    assert released.watermark_ts == 300.0


def test_news_sent_no_later_by_offset_and_time_than_what_was_taken_is_a_replay() -> None:
    pair, hold = pair_on(0), MeetingHold()
    for source in range(1, N):
        take_news(hold, [news(source, 0, 300.0, [], to=0)], N, IDLE_S)
    first = take_news(hold, [news(0, 9, 300.0, [met(pair, 200.0)], to=0, sent_ts=1e9)], N, IDLE_S)
    earlier = take_news(hold, [news(0, 8, 300.0, [met(pair, 150.0)], to=0, sent_ts=1e9 - 1)], N, IDLE_S)
    assert len(first.findings) == 1 and earlier.findings == []


@pytest.mark.parametrize(
    "value",
    [
        {"sources": {"0": {"offset": 0, "sent_ts": 1.0, "mark_ts": math.inf}}},
        {"sources": {"0": {"offset": 0, "sent_ts": 1.0, "mark_ts": math.nan}}},
        {"sources": {"0": {"offset": 0, "sent_ts": math.nan, "mark_ts": 1.0}}},
        {"sources": {"0": {"offset": -1, "sent_ts": 1.0, "mark_ts": 1.0}}},
        {"held": [{"found_ts": math.nan, "source": 0, "seq": 0, "sent_ts": 1e9, "finding": ENCOUNTER}]},
        {"held": [{"found_ts": math.inf, "source": 0, "seq": 0, "sent_ts": 1e9, "finding": ENCOUNTER}]},
    ],
)
def test_a_changelog_hold_dated_at_no_time_is_refused(value: object) -> None:
    # Taken, a NaN finding was dropped unseen, and an infinite mark let everything through for ever.
    assert not is_meeting_hold(value)


def test_a_replay_is_told_when_a_later_message_of_its_partition_was_stamped_by_a_clock_behind() -> None:
    # With roles `process` and `sink`, a sink worker sends the ingest batches and each process worker the
    # ticks: offset 9, a batch stamped by the sink's clock; offset 10, a tick stamped by a host 0.5 s behind.
    # The cells agent crashes before its offsets are committed and reads both again.
    pair, hold = pair_on(0), MeetingHold()
    for source in range(1, N):
        take_news(hold, [news(source, 0, 300.0, [], to=0)], N, IDLE_S)
    first = take_news(hold, [news(0, 9, 300.0, [met(pair, 200.0)], to=0, sent_ts=1e9)], N, IDLE_S)
    take_news(hold, [news(0, 10, 300.0, [], to=0, sent_ts=1e9 - 0.5)], N, IDLE_S)
    again = take_news(hold, [news(0, 9, 300.0, [met(pair, 200.0)], to=0, sent_ts=1e9)], N, IDLE_S)
    assert len(first.findings) == 1 and again.findings == []


@pytest.mark.xfail(
    strict=True,
    reason="sent_wall_time falls back on the reader's clock (a timestamp ahead of it, or none): a message "
    "so read is judged, and its news dated, at one time when read first and another when replayed",
)
@pytest.mark.parametrize(
    "stamped",
    [1e9 + 2.0, None],
    ids=["the producer's clock 2 s ahead of the reader's", "no timestamp"],
)
def test_a_replay_is_told_when_the_first_read_judged_it_at_the_readers_clock(stamped: float | None) -> None:
    # The batch was judged (and its news sent) at the reader's time; read again 10 minutes later, it is
    # judged at another, and its news taken a second time.
    pair, hold = pair_on(0), MeetingHold()
    for source in range(1, N):
        take_news(hold, [news(source, 0, 300.0, [], to=0)], N, IDLE_S)
    first_sent, replay_sent = sent_wall_time(stamped, 1e9), sent_wall_time(stamped, 1e9 + 600.0)
    first = take_news(hold, [news(0, 9, 300.0, [met(pair, 200.0)], to=0, sent_ts=first_sent)], N, IDLE_S)
    again = take_news(hold, [news(0, 9, 300.0, [met(pair, 200.0)], to=0, sent_ts=replay_sent)], N, IDLE_S)
    assert len(first.findings) == 1 and again.findings == []
