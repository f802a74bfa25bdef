"""Alert grouping (Alertmanager-style) and CAP 1.2 rendering checked against the official schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import xmlschema

from schemas.alerts import AlertKind, AlertStatus, Impact
from schemas.cap import render_cap
from schemas.errors import WatchListError
from streams.detect.findings import Finding
from streams.detect.grouping import group_findings
from streams.detect.thresholds import Thresholds
from streams.detect.watchlist import WatchListFile, load_watch_list

T = Thresholds()
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
CAP_SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "cap" / "CAP-v1.2.xsd")
T0 = 1_760_000_000.0


def surge(ts: float, impact: Impact = Impact.LOW, active: bool = True) -> Finding:
    return Finding(
        AlertKind.SURGE, "IT-LAMPEDUSA", ts=ts, impact=impact, active=active, zone_id="IT-LAMPEDUSA",
        route="Central Mediterranean", start_ts=T0, event_ids=(f"IT:{ts}",), detail="d",
    )  # fmt: skip


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


@pytest.mark.parametrize("status_findings", [[True], [True, True], [True, False]])
def test_every_alert_state_renders_as_valid_cap_1_2(status_findings: list[bool]) -> None:
    groups: dict = {}
    for n, active in enumerate(status_findings):
        finding = Finding(
            AlertKind.ENCOUNTER, "a|b", ts=T0 + n, active=active, impact=Impact.VERY_HIGH, lat=35.9, lon=-3.5,
            zone_id="ES-ALBORAN", vessel_ids=("mmsi:1", "mmsi:2"), event_ids=("ES:1",), detail="a <&> b, c",
        )  # fmt: skip
        changed, (alert,) = group_findings([finding], groups, T0, T, NOW)
        groups = {k: v for k, v in {**groups, **changed}.items() if v}
    xml = render_cap(alert, "borderwatch@example.eu")
    CAP_SCHEMA.validate(xml.decode())
    assert b"<severity>Extreme</severity>" in xml
    expected = {1: b"<msgType>Alert</msgType>", 2: b"<msgType>Update</msgType>"}
    assert (
        b"<msgType>Cancel</msgType>" if not status_findings[-1] else expected[len(status_findings)]
    ) in xml


def test_cap_schema_rejects_what_cap_forbids() -> None:
    _, (alert,) = group_findings([surge(T0)], {}, T0, T, NOW)
    xml = render_cap(alert, "borderwatch").replace(b"+00:00</sent>", b"Z</sent>")
    assert not CAP_SCHEMA.is_valid(xml.decode())


def test_watch_list_errors_name_the_line_and_a_bad_edit_keeps_the_old_list(tmp_path: Path) -> None:
    path = tmp_path / "watch.csv"
    path.write_text("mmsi,name,reason\n224000001,,smuggling\n,BLUE STAR,\n")
    watch = WatchListFile(path)
    assert watch.current.match("224000001", "", "", "") == "mmsi 224000001: smuggling"
    path.write_text("mmsi,name\n22400,\n")
    with pytest.raises(WatchListError, match="line 2: mmsi '22400' is not 9 digits"):
        load_watch_list(path)
    assert watch.refresh().match("", "", "blue star", "") == "name BLUE STAR"
    assert watch.error is not None and "line 2" in watch.error
    path.write_text("colour\nred\n")
    with pytest.raises(WatchListError, match="header"):
        load_watch_list(path)
    path.write_text("callsign\nEA1234\n")
    import os

    os.utime(path, ns=(1, 10**18))
    assert watch.refresh().match("", "", "", "ea1234") == "callsign EA1234"
