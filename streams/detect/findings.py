"""Detect stage: what a detector reports, before alert grouping turns it into an alert."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ConfigDict

from schemas.alerts import AlertKind, Impact


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation of a condition, or of its end (`active=False`).

    `group` names the alert group: a zone for zone alerts, a vessel (or a pair)
    for vessel alerts. Times are event time, epoch seconds.
    """

    # Decoded from detect.meetings and the meetings hold's changelog (meeting_news.py): a time that is no
    # time is refused there, or it waits in the hold and breaks the grouping of every news that lets it go.
    __pydantic_config__ = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: AlertKind
    group: str
    ts: float
    active: bool = True
    impact: Impact = Impact.LOW
    confidence: float = 0.8
    zone_id: str = ""
    route: str = ""
    start_ts: float | None = None
    event_ids: tuple[str, ...] = ()
    vessel_ids: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None
    detail: str = ""
    facts: dict[str, float] = field(default_factory=dict)

    @property
    def group_id(self) -> str:
        """The alert group this finding belongs to."""
        return f"{self.kind.value}:{self.group}"
