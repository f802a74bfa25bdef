"""Alert findings as the detectors hand them to grouping, for the tests of grouping and CAP."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.alerts import AlertKind, Impact
from streams.detect.findings import Finding
from streams.detect.thresholds import Thresholds

T = Thresholds()
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
T0 = 1_760_000_000.0


def surge(ts: float, impact: Impact = Impact.LOW, active: bool = True) -> Finding:
    """A surge finding at Lampedusa, its episode started at T0."""
    return Finding(
        AlertKind.SURGE, "IT-LAMPEDUSA", ts=ts, impact=impact, active=active, zone_id="IT-LAMPEDUSA",
        route="Central Mediterranean", start_ts=T0, event_ids=(f"IT:{ts}",), detail="d",
    )  # fmt: skip
