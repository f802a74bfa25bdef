"""Detect stage: encounter findings from every cells partition, put in event-time order by pair.

A pair's grid cells hash to several `detect.cells` partitions, each read by its
own agent, and in a catch-up one agent may run hours of event time ahead of
another. Grouping the findings where they are found would then depend on which
agent ran first. So each cells partition sends its findings to `detect.meetings`,
on the partition of their pair, together with its mark: the event time it has
reached. A meetings partition holds what it receives and lets a finding through
only once every cells partition has passed its time (the watermark, the least
of the marks), oldest first. The pair's alert is then grouped on one partition,
from findings in the order of their time, however the reports were batched.

A finding older than the watermark when it arrives (a fix reported late) goes
through at once: it is late data, and waiting would not put it in order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, TypeAdapter

from schemas.alerts import AlertKind
from streams.detect.columns import partition_of
from streams.detect.findings import Finding

# Internal messages and changelog values are input too: a field that is not ours refuses the value, and
# so does a time that is no time (NaN is neither held nor let through; an infinite mark never goes back).
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True, slots=True)
class DatedFinding:
    """A finding with the event time its cell had reached when it was found."""

    found_ts: float
    finding: Finding


@dataclass(frozen=True, slots=True)
class HeldFinding:
    """A finding waiting for the watermark, with what orders it among findings of the same time."""

    __pydantic_config__ = STRICT

    found_ts: float
    source: int  # the cells partition that found it
    seq: int  # its place among the findings of its source, in the order they were found
    finding: Finding
    sent_ts: float  # when its news was sent: a finding held for `idle_s` of send time goes anyway


@dataclass(frozen=True, slots=True)
class AdoptedGroup:
    """An encounter's alert group that the release before kept on a cells partition, handed over to
    the meetings partition of its pair (a grouping.Group, checked there by `is_group`)."""

    __pydantic_config__ = STRICT

    key: str  # the group id
    group: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MeetingNews:
    """What one cells message gave one meetings partition: its findings there, and the source's mark.

    `offset` and `sent_ts` are the cells message's own (its Kafka timestamp, at
    which its partition judged it): a batch replayed after a crash sends the same
    news again, and a meetings partition takes it once.
    """

    __pydantic_config__ = STRICT

    source: int
    offset: int
    sent_ts: float
    mark_ts: float | None  # None: the source has no clock yet
    found: tuple[HeldFinding, ...] = ()
    adopted: tuple[AdoptedGroup, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceSeen:
    """The last news a meetings partition took from one cells partition (its offset; the latest send
    time of all it took), and the mark it has reached."""

    __pydantic_config__ = STRICT

    offset: int
    sent_ts: float
    mark_ts: float | None  # None: the source has no clock yet

    def sent_before(self, news: MeetingNews) -> bool:
        """Is `news` a replay of what was taken? A cells topic made again counts its offsets from 0
        anew, but its messages are sent later: only a message no later by both is a replay."""
        return news.offset <= self.offset and news.sent_ts <= self.sent_ts


@dataclass(slots=True)
class MeetingHold:
    """One meetings partition's state: what it took last from each source, and what waits."""

    __pydantic_config__ = STRICT

    sources: dict[int, SourceSeen] = field(default_factory=dict)
    held: list[HeldFinding] = field(default_factory=list)

    def watermark(self, partitions: int) -> float:
        """The least mark of the `partitions` cells partitions (-inf while one has sent none)."""
        marks = [self.sources[p].mark_ts if p in self.sources else None for p in range(partitions)]
        return min((-math.inf if mark is None else mark for mark in marks), default=-math.inf)


@dataclass(frozen=True, slots=True)
class Released:
    """Findings let through, in event-time order, and the event time reached: the watermark, or the
    newest of them when some went through on waiting alone."""

    findings: list[Finding]
    watermark_ts: float


_NEWS = TypeAdapter(MeetingNews)
_HOLD = TypeAdapter(MeetingHold)


def news_for_partitions(
    source: int,
    offset: int,
    sent_ts: float,
    mark_ts: float,
    found: Sequence[DatedFinding],
    partitions: int,
    adopted: Sequence[AdoptedGroup] = (),
) -> list[tuple[int, bytes]]:
    """One message for each meetings partition: the findings (and handed-over groups) of its pairs,
    and the mark for all.

    Every partition hears every mark, or its watermark would wait for a source that has no news for it.
    """
    by_partition: dict[int, list[HeldFinding]] = {p: [] for p in range(partitions)}
    for seq, dated in enumerate(found):
        held = HeldFinding(dated.found_ts, source, seq, dated.finding, sent_ts)
        by_partition[partition_of(dated.finding.group_id, partitions)].append(held)
    handed: dict[int, list[AdoptedGroup]] = {p: [] for p in range(partitions)}
    for group in adopted:
        handed[partition_of(group.key, partitions)].append(group)
    mark = mark_ts if math.isfinite(mark_ts) else None
    return [
        (p, _NEWS.dump_json(MeetingNews(source, offset, sent_ts, mark, tuple(held), tuple(handed[p]))))
        for p, held in by_partition.items()
    ]


def decode_news(raw: bytes, partitions: int) -> MeetingNews:
    """A `detect.meetings` message; raises ValueError for anything but news from a cells partition.

    A cells partition finds at its cells' time, never past its own clock: a
    finding dated after the mark it came with is no news it sends.
    """
    news = _NEWS.validate_json(raw)
    if news.source not in range(partitions) or news.offset < 0:
        raise ValueError(f"news from no cells partition of {partitions}: {news.source}@{news.offset}")
    if any(held.finding.kind is not AlertKind.ENCOUNTER for held in news.found):
        raise ValueError(f"news of cells partition {news.source} holding a finding that is no encounter")
    if any(held.source != news.source or held.sent_ts != news.sent_ts for held in news.found):
        raise ValueError(f"news of cells partition {news.source} holding another's findings")
    mark = -math.inf if news.mark_ts is None else news.mark_ts
    if any(held.found_ts > mark for held in news.found):
        raise ValueError(f"news of cells partition {news.source} found after its own mark")
    return news


def take_news(hold: MeetingHold, news: Iterable[MeetingNews], partitions: int, idle_s: float) -> Released:
    """Hold each news's findings and move its source's mark (news already taken is skipped), then let
    through, oldest first, every held finding no later than the watermark, and every one held for
    `idle_s` of send time (a cells partition unread, or whose clock is stuck, holds nothing for ever)."""
    for item in news:
        seen = hold.sources.get(item.source)
        if seen is not None and seen.sent_before(item):
            continue  # a replay of what was taken
        marks = [m for m in (item.mark_ts, None if seen is None else seen.mark_ts) if m is not None]
        # The latest send time, not the last: several producers stamp a cells partition (the ingest
        # batches, each worker's ticks), by clocks that differ, so its times are not in offset order.
        sent_ts = item.sent_ts if seen is None else max(item.sent_ts, seen.sent_ts)
        hold.sources[item.source] = SourceSeen(item.offset, sent_ts, max(marks, default=None))
        hold.held.extend(item.found)
    watermark = hold.watermark(partitions)
    newest_sent = max((seen.sent_ts for seen in hold.sources.values()), default=-math.inf)

    def due(held: HeldFinding) -> bool:
        return held.found_ts <= watermark or newest_sent - held.sent_ts >= idle_s

    ready = sorted((held for held in hold.held if due(held)), key=_in_event_order)
    hold.held = [held for held in hold.held if not due(held)]
    reached = max([watermark, *(held.found_ts for held in ready)])
    return Released([held.finding for held in ready], reached)


def hold_to_json(hold: MeetingHold) -> object:
    """A hold as its table value (plain JSON)."""
    return _HOLD.dump_python(hold, mode="json")


def hold_from_json(value: object) -> MeetingHold:
    """The hold `hold_to_json` gave (None: a new one); raises ValueError for anything else."""
    if value is None:
        return MeetingHold()
    hold = _HOLD.validate_python(value)  # STRICT: no time that is NaN or infinite
    if any(seen.offset < 0 for seen in hold.sources.values()):
        raise ValueError(f"not a meetings hold: {value!r:.80}")
    return hold


def _in_event_order(held: HeldFinding) -> tuple[float, float, int, int]:
    """Oldest first; of one time, the one whose condition began first (a pair on a cell corner is found
    by each cell its noise reaches, each with its own start, and the first opens the alert), then by
    source and order found. The source alone would tie the alert to the partition count."""
    start_ts = held.finding.start_ts
    return (held.found_ts, math.inf if start_ts is None else start_ts, held.source, held.seq)
