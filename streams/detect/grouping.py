"""Detect stage: findings to alerts, grouped and deduplicated the way Alertmanager does it.

One alert group per kind and zone (or vessel, or vessel pair). A group's first
finding makes a new alert; later findings update it, and notify again only
when the impact rises or the repeat interval has passed; the group resolves
when its detector says the condition cleared, or, for one-off kinds, after a
quiet time. Each batch emits at most one state per group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.detect.findings import Finding
from streams.detect.thresholds import Thresholds

ONE_OFF = frozenset(
    {
        AlertKind.MASS_ATTEMPT,
        AlertKind.IMPLAUSIBLE_SPEED,
        AlertKind.GEOFENCE_ENTER,
        AlertKind.GEOFENCE_EXIT,
        AlertKind.GEOFENCE_CROSS,
        AlertKind.VESSEL_OF_INTEREST,
    }
)
MAX_EVIDENCE = 50
HEADLINES = {
    AlertKind.SURGE: "Surge at {where}",
    AlertKind.MASS_ATTEMPT: "Mass crossing attempt at {where}",
    AlertKind.AIS_GAP: "AIS gap: {who} went dark",
    AlertKind.LOITERING: "Loitering: {who}",
    AlertKind.ENCOUNTER: "Encounter at sea: {who}",
    AlertKind.IMPLAUSIBLE_SPEED: "Implausible speed: {who}",
    AlertKind.GEOFENCE_ENTER: "{who} entered {where}",
    AlertKind.GEOFENCE_EXIT: "{who} left {where}",
    AlertKind.GEOFENCE_CROSS: "{who} crossed {where}",
    AlertKind.VESSEL_OF_INTEREST: "Vessel of interest: {who}",
}

Group = dict[str, Any]


def group_findings(
    findings: Iterable[Finding],
    groups: Mapping[str, Group],
    clock_ts: float,
    t: Thresholds,
    sent_at: datetime,
) -> tuple[dict[str, Group | None], list[Alert]]:
    """Apply findings to the open groups; returns changed groups (None = closed) and alert states."""
    changed: dict[str, Group | None] = {}
    notify: dict[str, bool] = {}

    def current(group_id: str) -> Group | None:
        return changed[group_id] if group_id in changed else groups.get(group_id)

    for finding in findings:
        group_id = finding.group_id
        group = current(group_id)
        if finding.active:
            if group is None:
                group = _open(finding, sent_at)
                notify[group_id] = True
            else:
                group = dict(group)
                raised = Impact(finding.impact).rank > Impact(group["impact"]).rank
                if raised or finding.ts - group["notified_ts"] >= t.repeat_interval_s:
                    notify[group_id] = True
                    group["notified_ts"] = finding.ts
                _merge(group, finding)
            changed[group_id] = group
        elif group is not None or finding.kind is AlertKind.AIS_GAP:
            # A gap can open and close between two looks (the vessel came back
            # first): it is still reported once, resolved, with its duration.
            group = dict(group) if group is not None else _open(finding, sent_at)
            _merge(group, finding)
            group["resolved"] = True
            changed[group_id] = group
            notify[group_id] = True

    for group_id, group in groups.items():
        if (
            group_id not in changed
            and group["kind"] in ONE_OFF
            and clock_ts - group["end_ts"] >= t.resolve_after_s
        ):
            changed[group_id] = dict(group, resolved=True)
            notify[group_id] = True

    alerts = []
    for group_id, group in list(changed.items()):
        assert group is not None
        alerts.append(_alert(group, notify.get(group_id, False), sent_at))
        changed[group_id] = None if group.get("resolved") else dict(group, version=group["version"] + 1)
    return changed, alerts


def _open(finding: Finding, opened_at: datetime) -> Group:
    start = finding.start_ts if finding.start_ts is not None else finding.ts
    return {
        "id": f"{finding.group_id}:{int(start)}",
        "version": 1,
        "kind": finding.kind.value,
        "impact": finding.impact.value,
        "confidence": finding.confidence,
        "zone_id": finding.zone_id,
        "route": finding.route,
        "start_ts": start,
        "end_ts": finding.ts,
        "notified_ts": finding.ts,
        "event_ids": list(finding.event_ids),
        "vessel_ids": list(finding.vessel_ids),
        "lat": finding.lat,
        "lon": finding.lon,
        "detail": finding.detail,
        "emitted": False,
        "opened_at": opened_at.timestamp(),
    }


def _merge(group: Group, finding: Finding) -> None:
    if Impact(finding.impact).rank > Impact(group["impact"]).rank:
        group["impact"] = finding.impact.value
    group["confidence"] = max(group["confidence"], finding.confidence)
    group["end_ts"] = max(group["end_ts"], finding.ts)
    group["event_ids"] = _union(group["event_ids"], finding.event_ids)
    group["vessel_ids"] = _union(group["vessel_ids"], finding.vessel_ids)
    group["zone_id"] = group["zone_id"] or finding.zone_id
    group["route"] = group["route"] or finding.route
    if finding.lat is not None:
        group["lat"], group["lon"] = finding.lat, finding.lon
    if finding.detail:
        group["detail"] = finding.detail


def _union(old: list[str], new: Iterable[str]) -> list[str]:
    merged = old + [x for x in new if x not in old]
    return merged[-MAX_EVIDENCE:]


def _alert(group: Group, notify: bool, sent_at: datetime) -> Alert:
    if group.get("resolved"):
        status = AlertStatus.RESOLVED
    else:
        status = AlertStatus.UPDATED if group["emitted"] else AlertStatus.NEW
    group["emitted"] = True
    kind = AlertKind(group["kind"])
    who = " and ".join(group["vessel_ids"][:2]) or group["zone_id"]
    headline = HEADLINES[kind].format(where=group["zone_id"] or "sea", who=who)
    return Alert(
        id=group["id"],
        version=group["version"],
        kind=kind,
        status=status,
        impact=Impact(group["impact"]),
        confidence=group["confidence"],
        zone_id=group["zone_id"],
        route=group["route"],
        window_start=datetime.fromtimestamp(group["start_ts"], UTC),
        window_end=datetime.fromtimestamp(group["end_ts"], UTC),
        event_ids=group["event_ids"],
        vessel_ids=group["vessel_ids"],
        lat=group["lat"],
        lon=group["lon"],
        headline=headline,
        description=group["detail"],
        notify=notify,
        opened_at=datetime.fromtimestamp(group["opened_at"], UTC),
        sent_at=sent_at,
    )


_NUMBERS = ("version", "start_ts", "end_ts", "notified_ts", "opened_at")


def is_group(value: Any) -> bool:
    """Does a stored value have the shape `group_findings` reads (a changelog record is input too)?"""
    if not isinstance(value, dict) or not isinstance(value.get("partition"), int):
        return False
    try:
        numbers_ok = all(type(value[k]) in (int, float) for k in _NUMBERS)
        Impact(value["impact"])
        AlertKind(value["kind"])
        _alert(dict(value), False, datetime.now(UTC))
    except (KeyError, TypeError, ValueError):
        return False
    return numbers_ok
