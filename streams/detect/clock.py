"""Detect stage: the event-time clock of one partition, and its watermark.

Detectors run on observed_at, never on arrival time. Each partition keeps the
newest observed_at it has seen. When that newest report was close to wall time
on arrival (a live feed), the clock keeps running with the wall clock between
messages, so a vessel that goes silent is found even when nothing arrives. For
a replay of old data the clock moves only with the data, so replaying last
month does not make every vessel look silent.

The clocks are state like any other: each partition's are a value of a Faust
table, so a worker that takes a partition over goes on with its clock (a
partition that only receives ticks still finds its silent vessels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class EventClock:
    """Event time of one partition: the newest observed_at, advanced by wall time when live."""

    newest_ts: float = -math.inf
    wall_at_newest: float = -math.inf

    def observe(self, newest_ts: float, wall_now: float) -> bool:
        """Take the newest observed_at of a batch; older ones never move the clock back. Did it move?"""
        if newest_ts > self.newest_ts:
            self.newest_ts = newest_ts
            self.wall_at_newest = wall_now
            return True
        return False

    def is_live(self, live_within_s: float) -> bool:
        """Was the newest report close to wall time when it arrived?"""
        return self.wall_at_newest - self.newest_ts <= live_within_s

    def now(self, wall_now: float, live_within_s: float) -> float:
        """Event time now: the newest observed_at, plus the wall time since it when live."""
        if self.is_live(live_within_s):
            return self.newest_ts + max(0.0, wall_now - self.wall_at_newest)
        return self.newest_ts

    def watermark(self, wall_now: float, live_within_s: float, allowed_lateness_s: float) -> float:
        """Reports older than this are too late for their window."""
        return self.now(wall_now, live_within_s) - allowed_lateness_s

    def to_json(self) -> list[float] | None:
        """[newest observed_at, wall time then], or None before the first report."""
        return None if self.newest_ts == -math.inf else [self.newest_ts, self.wall_at_newest]

    @classmethod
    def from_json(cls, value: Any) -> EventClock:
        """The clock `to_json` gave; raises ValueError for anything else."""
        if value is None:
            return cls()
        if not (isinstance(value, list) and len(value) == 2 and all(_is_time(v) for v in value)):
            raise ValueError(f"not an event clock: {value!r:.80}")
        return cls(float(value[0]), float(value[1]))


def sent_wall_time(timestamp_s: float | None, wall_now: float) -> float:
    """The wall time a detect message is judged at: when it was sent (its Kafka timestamp), so that
    a batch replayed after a crash is judged as it was the first time; now when it carries none."""
    if timestamp_s is None or not math.isfinite(timestamp_s) or timestamp_s <= 0:
        return wall_now
    return min(timestamp_s, wall_now)  # never ahead of this process's clock


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def clocks_to_json(clocks: dict[str, EventClock]) -> dict[str, list[float] | None]:
    """A partition's named clocks as one table value."""
    return {name: clock.to_json() for name, clock in clocks.items()}


def clocks_from_json(value: Any, names: tuple[str, ...]) -> dict[str, EventClock]:
    """A partition's named clocks from its table value (None: none yet); raises ValueError otherwise."""
    if value is None:
        return {name: EventClock() for name in names}
    if not isinstance(value, dict) or set(value) != set(names):
        raise ValueError(f"not the clocks {names!r}: {value!r:.80}")
    return {name: EventClock.from_json(value[name]) for name in names}
