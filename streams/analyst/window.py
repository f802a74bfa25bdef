"""Analyst queries: the event-time window of --since and --until, absolute or back from the newest event.

A duration never counts back from the wall clock: a sample or a backfill from last year is windowed as a
live feed would be. The window is half-open, [since, until).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration_s(text: str) -> int:
    """'90s', '15m', '1h', '2d', '1w' to seconds; ValueError naming the text otherwise."""
    match = _DURATION.match(text)
    if not match or len(match.group(1)) > 6:
        raise ValueError(f"duration {text!r} is not a number (at most 6 digits) followed by s, m, h, d or w")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class TimeBound:
    """One end of a window as given: an absolute time (`at`) or a duration back from the newest event."""

    text: str
    at: datetime | None = None
    back_s: int | None = None

    def resolve(self, newest: datetime | None) -> datetime | None:
        """The time this bound stands for; None for a duration when there is no data to count back from."""
        if self.at is not None:
            return self.at
        if newest is None or self.back_s is None:
            return None
        return newest - timedelta(seconds=self.back_s)


def parse_bound(text: str, option: str = "--since") -> TimeBound:
    """'2025-04-01', '2025-04-01T06:00Z', '2025-04-01 06:00+02:00' (a time without offset is UTC) or a
    duration ('90m', '7d'); ValueError naming the option and the text otherwise."""
    stripped = text.strip()
    try:
        return TimeBound(text, back_s=parse_duration_s(stripped))
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(
            f"{option} {text!r} is neither a duration (15m, 1h, 7d) nor an ISO date or time (2025-04-01, "
            "2025-04-01T06:00Z)"
        ) from None
    return TimeBound(text, at=at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC))


@dataclass(frozen=True)
class ResolvedWindow:
    """A window in absolute event time; `newest` is the newest event time it was counted back from."""

    start: datetime | None
    end: datetime | None
    newest: datetime | None

    def as_json(self) -> dict[str, str | None]:
        """The window's ends as ISO strings (null where open), for the API."""
        ends = (("start", self.start), ("end", self.end), ("newest", self.newest))
        return {name: (value.isoformat() if value else None) for name, value in ends}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResolvedWindow:
        """The window the API sent (see `as_json`)."""
        ends = [datetime.fromisoformat(data[n]) if data.get(n) else None for n in ("start", "end", "newest")]
        return cls(*ends)


@dataclass(frozen=True)
class TimeWindow:
    """The window asked for: --since and --until, each absolute, a duration or absent."""

    since: TimeBound | None = None
    until: TimeBound | None = None

    @classmethod
    def parse(cls, since: str | None, until: str | None) -> TimeWindow:
        """Both options parsed and checked against each other; ValueError in one line otherwise."""
        window = cls(parse_bound(since, "--since") if since else None,
                     parse_bound(until, "--until") if until else None)  # fmt: skip
        s, u = window.since, window.until
        if s and u and s.at and u.at and s.at >= u.at:
            raise ValueError(f"--since {s.text!r} is not before --until {u.text!r}")
        if s and u and s.back_s is not None and u.back_s is not None and s.back_s <= u.back_s:
            raise ValueError(
                f"--since {s.text!r} must reach further back than --until {u.text!r} (both count back from "
                "the newest event)"
            )
        return window

    @property
    def is_open(self) -> bool:
        """True when neither end is given: everything."""
        return self.since is None and self.until is None

    @property
    def needs_newest(self) -> bool:
        """True when an end is a duration, to be counted back from the newest event time."""
        return any(b is not None and b.back_s is not None for b in (self.since, self.until))

    def resolve(self, newest: datetime | None) -> ResolvedWindow:
        """Absolute ends, durations counted back from `newest` (the newest event time in the data)."""
        return ResolvedWindow(
            self.since.resolve(newest) if self.since else None,
            self.until.resolve(newest) if self.until else None,
            newest,
        )

    def empty_for_lack_of_data(self, resolved: ResolvedWindow) -> bool:
        """True when a duration had no newest event to count back from: nothing can be in the window."""
        return self.needs_newest and resolved.newest is None


def _short(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M" if at.second == 0 else "%Y-%m-%d %H:%M:%S")


def describe_window(window: TimeWindow, resolved: ResolvedWindow, newest_of: str = "report") -> str:
    """One line on the window used, e.g. 'window from 2025-03-25 10:00 on, UTC event time; --since 7d
    counted back from the newest report, 2025-04-01 10:00, not from the clock'; '' when none was asked."""
    if window.is_open:
        return ""
    if window.empty_for_lack_of_data(resolved):
        return f"no {newest_of} yet to count --since/--until back from: the window is empty"
    start, end = resolved.start, resolved.end
    if start and end:
        text = f"from {_short(start)} to {_short(end)} (the end excluded)"
    else:
        text = f"from {_short(start)} on" if start else f"before {_short(end)}" if end else "everything"
    text = f"window {text}, UTC event time"
    if start and end and start >= end:
        text += " (empty: its start is not before its end)"
    if window.needs_newest and resolved.newest is not None:
        given = (("--since", window.since), ("--until", window.until))
        durations = [f"{option} {b.text}" for option, b in given if b is not None and b.back_s is not None]
        text += (f"; {' and '.join(durations)} counted back from the newest {newest_of}, "
                 f"{_short(resolved.newest)}, not from the clock")  # fmt: skip
    return text
