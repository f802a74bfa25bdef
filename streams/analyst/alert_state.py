"""Analyst reads: what an alert's stored state means now: acknowledged, silenced, or resolved by time.

A worker resolves an alert when its kind's clear time passes without an
update (streams/detect/grouping.py); a stopped worker never does, so reads
apply the same rule against the newest event time in `events`: crossings'
alerts (surges, mass attempts) on the newest interception report, the others
on the newest report of any kind. Pure: the rows come in, the rows go out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.alerts import Alert, AlertKind, AlertStatus
from streams.delivery.silences import Silence, silenced_by
from streams.detect.grouping import ENDED_BY_DETECTOR, ZONE_KINDS
from streams.detect.thresholds import Thresholds


@dataclass(frozen=True)
class Ack:
    """One acknowledgement of an alert: who, when (wall clock), and their note."""

    alert_id: str
    by: str
    at: datetime
    note: str = ""

    def as_json(self) -> dict[str, str]:
        return {"by": self.by, "at": self.at.isoformat(), "note": self.note}


@dataclass(frozen=True)
class ClearTimes:
    """How long an alert stays open without an update, from the detectors' thresholds."""

    clear_after_s: float
    max_open_s: float

    @classmethod
    def of(cls, thresholds: Thresholds) -> ClearTimes:
        return cls(thresholds.clear_after_s, thresholds.max_open_s)


@dataclass(frozen=True)
class EventClock:
    """The newest event time (epoch s) of interception reports and of all reports; None: no reports."""

    interceptions_ts: float | None
    any_ts: float | None

    def of(self, kind: AlertKind) -> float | None:
        return self.interceptions_ts if kind in ZONE_KINDS else self.any_ts


def resolved_by_time(alert: Alert, clock: EventClock, clear: ClearTimes) -> bool:
    """Whether an open alert's group would have been resolved or closed by now, as the worker does it:
    open `max_open_s` (every kind), or `clear_after_s` without a finding (kinds not ended by their
    detector)."""
    now = clock.of(alert.kind)
    if alert.status is AlertStatus.RESOLVED or now is None:
        return False
    if now - alert.window_start.timestamp() >= clear.max_open_s:
        return True
    return alert.kind not in ENDED_BY_DETECTOR and now - alert.window_end.timestamp() >= clear.clear_after_s


def annotate(
    alerts: Sequence[Mapping[str, Any]],
    acks: Iterable[Ack],
    silences: Sequence[Silence],
    clock: EventClock,
    clear: ClearTimes,
) -> list[dict[str, Any]]:
    """Each alert (JSON-ready, the `Alert` shape) with `acks`, `silenced_by` (the silence, or None) and
    `stale` (resolved here because its clear time passed: `status` then reads `resolved`)."""
    by_alert: dict[str, list[dict[str, str]]] = {}
    for ack in sorted(acks, key=lambda a: a.at):
        by_alert.setdefault(ack.alert_id, []).append(ack.as_json())
    shown = []
    for row in alerts:
        alert = Alert.model_validate(row)
        stale = resolved_by_time(alert, clock, clear)
        silence = silenced_by(alert, silences)
        shown.append({
            **row,
            "status": AlertStatus.RESOLVED.value if stale else alert.status.value,
            "stale": stale,
            "acks": by_alert.get(alert.id, []),
            "silenced_by": silence.model_dump(mode="json") if silence else None,
        })  # fmt: skip
    return shown


def shown_status(alert: Mapping[str, Any]) -> str:
    """One word for the list: resolved, silenced, acked, or the stored status (new, updated)."""
    if alert.get("status") == AlertStatus.RESOLVED.value:
        return "resolved"
    if alert.get("silenced_by"):
        return "silenced"
    return "acked" if alert.get("acks") else str(alert.get("status", ""))
