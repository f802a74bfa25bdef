"""Alert grouping (Alertmanager-style): versions, notifications and resolution of a group's states."""

from __future__ import annotations

from schemas.alerts import AlertKind, AlertStatus, Impact
from streams.detect.findings import Finding
from streams.detect.grouping import group_findings
from tests.helpers.findings import NOW, T0, T, surge


def test_repeats_update_without_notifying_until_impact_rises_or_interval_passes() -> None:
    groups, (first,) = group_findings([surge(T0)], {}, T0, T, NOW)
    assert (first.status, first.version, first.notify) == (AlertStatus.NEW, 1, True)
    groups = {k: v for k, v in groups.items() if v}
    groups, (repeat,) = group_findings([surge(T0 + 60)], groups, T0, T, NOW)
    assert (repeat.status, repeat.version, repeat.notify, repeat.id) == (
        AlertStatus.UPDATED,
        2,
        False,
        first.id,
    )
    assert repeat.event_ids == [f"IT:{T0}", f"IT:{T0 + 60}"]
    groups = {k: v for k, v in groups.items() if v}
    _, (raised,) = group_findings([surge(T0 + 120, Impact.HIGH)], groups, T0, T, NOW)
    assert (raised.notify, raised.impact) == (True, Impact.HIGH)
    _, (later,) = group_findings([surge(T0 + T.repeat_interval_s)], groups, T0, T, NOW)
    assert later.notify
    closed, (resolved,) = group_findings([surge(T0 + 200, active=False)], groups, T0, T, NOW)
    assert (resolved.status, resolved.notify, closed[first.id.rsplit(":", 1)[0]]) == (
        AlertStatus.RESOLVED,
        True,
        None,
    )


def test_one_batch_emits_one_state_per_group() -> None:
    _, alerts = group_findings([surge(T0), surge(T0 + 1), surge(T0 + 2)], {}, T0, T, NOW)
    assert [(a.status, a.version) for a in alerts] == [(AlertStatus.NEW, 1)]


def test_one_off_alerts_resolve_after_the_quiet_time() -> None:
    watched = Finding(AlertKind.VESSEL_OF_INTEREST, "mmsi:1", ts=T0, vessel_ids=("mmsi:1",))
    groups, _ = group_findings([watched], {}, T0, T, NOW)
    groups = {k: v for k, v in groups.items() if v}
    assert group_findings([], groups, T0 + T.clear_after_s - 1, T, NOW)[1] == []
    _, (resolved,) = group_findings([], groups, T0 + T.clear_after_s, T, NOW)
    assert resolved.status is AlertStatus.RESOLVED


def test_gap_closed_before_it_was_seen_open_is_reported_resolved() -> None:
    back = Finding(
        AlertKind.AIS_GAP, "mmsi:1", ts=T0 + 8 * 3600, active=False, start_ts=T0, vessel_ids=("mmsi:1",)
    )
    _, (alert,) = group_findings([back], {}, T0, T, NOW)
    assert (alert.status, alert.window_start.timestamp(), alert.notify) == (AlertStatus.RESOLVED, T0, True)
