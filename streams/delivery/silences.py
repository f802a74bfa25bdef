"""Deliver stage: silences, which keep matching alerts from being delivered (they are still stored).

A silence names a kind, a zone, or both, and lasts until a wall-clock time.
An alert state is silenced when a silence matches its kind and zone and the
state was published (`sent_at`) before the silence's `until`. The rule reads
only the alert state and the silence, so every deliverer, and every read of
the alerts, decides the same way, after a restart too. Pure: no I/O here.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.alerts import Alert, AlertKind

MAX_REASON_CHARS = 500
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]*$")


class SilenceRequest(BaseModel):
    """What an operator asks for: `POST /silences`, or `borderwatch alerts silence`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AlertKind | None = Field(None, description="only alerts of this kind; none: any kind")
    zone_id: str = Field("", max_length=100, pattern=r"^[A-Za-z0-9._:+-]*$", description="'' for any zone")
    until: AwareDatetime = Field(description="alert states published before this are silenced")
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS, pattern=_PRINTABLE.pattern)

    @model_validator(mode="after")
    def _names_something(self) -> SilenceRequest:
        if self.kind is None and not self.zone_id:
            raise ValueError(
                "a silence names a kind, a zone or both: one that silenced everything is refused"
            )
        return self


class Silence(SilenceRequest):
    """A stored silence: the request, with its id and who made it when."""

    id: str = Field(pattern=r"^s-[0-9a-f]{12}$")
    created_by: str
    created_at: AwareDatetime

    def matches(self, alert: Alert) -> bool:
        """Whether this silence keeps `alert` (one state of it) from being delivered."""
        return (
            (self.kind is None or self.kind is alert.kind)
            and (not self.zone_id or self.zone_id == alert.zone_id)
            and alert.sent_at < self.until
        )

    def active(self, now: datetime) -> bool:
        """Whether alert states published at `now` would still be silenced."""
        return now < self.until


def new_silence(request: SilenceRequest, created_by: str, created_at: datetime) -> Silence:
    """A silence with a fresh id; its times to the millisecond, as ClickHouse keeps them."""
    fields = {**request.model_dump(), "until": _to_ms(request.until)}
    return Silence(
        **fields, id=f"s-{secrets.token_hex(6)}", created_by=created_by, created_at=_to_ms(created_at)
    )


def _to_ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def silenced_by(alert: Alert, silences: Iterable[Silence]) -> Silence | None:
    """The silence that keeps this alert state from being delivered, the longest-lasting if several."""
    matching = [s for s in silences if s.matches(alert)]
    return max(matching, key=lambda s: (s.until, s.id)) if matching else None


def until_of(text: str, now: datetime, duration_s: Callable[[str], int]) -> datetime:
    """`--until`: a duration from now ('4h', by `duration_s`) or a time with its offset
    ('2026-11-23T06:00:00Z'); ValueError naming the text otherwise."""
    try:
        return now + timedelta(seconds=duration_s(text))
    except ValueError:
        pass
    try:
        until = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"until {text!r} is neither a duration (4h, 2d) nor a time (2026-11-23T06:00Z)"
        ) from None
    if until.tzinfo is None:
        raise ValueError(f"until {text!r} needs its offset, e.g. {text}Z for UTC")
    return until
