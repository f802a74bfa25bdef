"""Inhibition: a surge over the hours of an open mass attempt at the same crossing is its evidence, muted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.detect.baseline import Baselines
from streams.detect.clock import EventClock
from streams.detect.crossings import CrossingContext, Sighting
from streams.detect.grouping import Group
from streams.detect.inhibit import (
    DEFAULT_INHIBIT_RULES,
    Firing,
    InhibitRule,
    check_rules,
    firing_of_group,
    inhibit,
)
from streams.detect.seed import load_seed
from streams.detect.steps import CrossingPlace, run_crossing
from streams.detect.thresholds import Thresholds

T0 = datetime(2026, 5, 17, 6, tzinfo=UTC).timestamp()
H = 3600.0
CEUTA = "ES-CEUTA-LAND"


def alert(kind: AlertKind, zone: str = CEUTA, start: float = T0, end: float = T0 + H, **kw: Any) -> Alert:
    return Alert(
        id=f"{kind.value}:{zone}:{int(start)}", version=1, kind=kind,
        status=kw.pop("status", AlertStatus.NEW),
        impact=Impact.HIGH, confidence=0.9, zone_id=zone, route="Western Mediterranean",
        window_start=datetime.fromtimestamp(start, UTC), window_end=datetime.fromtimestamp(end, UTC),
        headline="h", description="d", opened_at=datetime.fromtimestamp(end, UTC),
        sent_at=datetime.fromtimestamp(end, UTC), **kw,
    )  # fmt: skip


MASS = Firing(
    "mass_attempt:ES-CEUTA-LAND:1", AlertKind.MASS_ATTEMPT, {"zone_id": CEUTA}, T0 + 1800, T0 + 2400
)


def test_a_surge_over_an_open_mass_attempt_at_the_crossing_is_linked_to_it_and_does_not_notify() -> None:
    (muted,) = inhibit([alert(AlertKind.SURGE)], [MASS], DEFAULT_INHIBIT_RULES)
    assert muted.notify is False
    assert muted.description == (
        "d; part of the incident mass_attempt:ES-CEUTA-LAND:1 (mass_attempt), which notifies for it"
    )
    assert muted.model_copy(update={"notify": True, "description": "d"}) == alert(AlertKind.SURGE)


@pytest.mark.parametrize(
    "target",
    [
        alert(AlertKind.SURGE, zone="ES-MELILLA-LAND"),  # another crossing
        alert(AlertKind.SURGE, start=T0 + 3 * H, end=T0 + 9 * H),  # after the attempt's window
        alert(AlertKind.SURGE, status=AlertStatus.RESOLVED),  # an end is news to whoever heard of it
        alert(AlertKind.LARGE_BOAT),  # no rule for it
        alert(AlertKind.MASS_ATTEMPT),  # the source itself
    ],
)
def test_other_crossings_windows_kinds_and_resolutions_are_left_as_they_are(target: Alert) -> None:
    assert inhibit([target], [MASS], DEFAULT_INHIBIT_RULES) == [target]


def test_no_open_source_or_no_rules_mute_nothing() -> None:
    surge = alert(AlertKind.SURGE)
    assert inhibit([surge], [], DEFAULT_INHIBIT_RULES) == [surge]
    assert inhibit([surge], [MASS], ()) == [surge]


def test_a_resolved_group_is_no_source() -> None:
    group: Group = {
        "id": "mass_attempt:ES-CEUTA-LAND:1", "key": CEUTA, "version": 3, "kind": "mass_attempt",
        "impact": "high", "confidence": 0.9, "zone_id": CEUTA, "route": "Western Mediterranean",
        "start_ts": T0, "end_ts": T0 + 600, "notified_ts": T0, "event_ids": [], "vessel_ids": [],
        "lat": None, "lon": None, "detail": "", "emitted": True, "opened_at": T0,
    }  # fmt: skip
    firing = firing_of_group(group)
    assert firing is not None and firing.kind is AlertKind.MASS_ATTEMPT and firing.labels["zone_id"] == CEUTA
    assert firing_of_group({**group, "resolved": True}) is None


def test_rules_compare_the_crossing_between_two_kinds() -> None:
    assert check_rules(DEFAULT_INHIBIT_RULES) == DEFAULT_INHIBIT_RULES
    route_only = InhibitRule(AlertKind.MASS_ATTEMPT, AlertKind.SURGE, same=("route",))
    for bad in (
        route_only,
        InhibitRule(AlertKind.SURGE, AlertKind.SURGE),
        InhibitRule(*MASS[1:2], AlertKind.SURGE, ("zone_id", "x")),
    ):
        with pytest.raises(ValueError, match="inhibit rule"):
            check_rules([bad])


def test_at_a_crossing_the_mass_attempt_notifies_and_the_surge_of_its_persons_is_its_evidence() -> None:
    t = Thresholds()
    ctx = CrossingContext(t, Baselines(load_seed(), t))
    # 450 persons at the Ceuta fence within 10 minutes, reported a few minutes later each.
    sightings = [Sighting(f"ES-GC:{n}", T0 + n * 120, 90, T0 + n * 120 + 300) for n in range(5)]
    where = CrossingPlace(CEUTA, "fence_section", "Western Mediterranean")
    run = run_crossing(where, sightings, None, None, {}, EventClock(), T0 + 2 * H, ctx)
    kinds = {a.kind for a in run.alerts}
    assert kinds == {AlertKind.MASS_ATTEMPT, AlertKind.SURGE}
    mass = [a for a in run.alerts if a.kind is AlertKind.MASS_ATTEMPT]
    assert mass[0].status is AlertStatus.NEW and mass[0].notify  # the incident is told once, by it
    surges = [a for a in run.alerts if a.kind is AlertKind.SURGE]
    assert surges and not any(a.notify for a in surges)
    assert all("part of the incident mass_attempt:ES-CEUTA-LAND:" in a.description for a in surges)
