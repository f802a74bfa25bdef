"""Detect stage: findings to alerts, one alert per episode, deduplicated the way Alertmanager does it.

One alert group per kind and zone (or vessel, or vessel pair) at a time. A
group's first finding makes a new alert; later findings update it, and notify
again only when the impact rises or the repeat interval has passed. An episode
ends when its condition has been clear for a while, when its detector says it
ended, or when it reaches its maximum time open; a later finding is a new
episode with a new id. Each batch emits at most one state per alert id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import string
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, cast

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.detect.findings import Finding
from streams.detect.thresholds import Thresholds

# Kinds whose detector says when the condition ends (the vessel reappears, the pair separates);
# the others resolve once no finding has come for `clear_after_s`.
ENDED_BY_DETECTOR = frozenset({AlertKind.AIS_GAP, AlertKind.LOITERING, AlertKind.ENCOUNTER})
# Kinds whose findings come from several partitions (a pair's cells hash apart): an ended episode is
# kept, closed, for news from the others that is older than its end; in a backfill such news arrives
# after the end, and it belongs to that episode, not to a new alert.
KEPT_AFTER_END = frozenset({AlertKind.ENCOUNTER})
# A tuple, not a set: a crossing's groups are visited in this order, and a set of enum members
# iterates in an order that changes with the process's hash seed (and so would the alerts').
ZONE_KINDS = (AlertKind.SURGE, AlertKind.MASS_ATTEMPT, AlertKind.LARGE_BOAT)
MAX_EVIDENCE = 50
HEADLINES = {
    AlertKind.SURGE: "Surge at {where}",
    AlertKind.MASS_ATTEMPT: "Mass crossing attempt at {where}",
    AlertKind.LARGE_BOAT: "Unusually large boat at {where}",
    AlertKind.AIS_GAP: "AIS gap: {who} went dark",
    AlertKind.LOITERING: "Loitering: {who}",
    AlertKind.ENCOUNTER: "Encounter at sea: {who}",
    AlertKind.IMPLAUSIBLE_SPEED: "Implausible speed: {who}",
    AlertKind.GEOFENCE_ENTER: "{who} entered {where}",
    AlertKind.GEOFENCE_EXIT: "{who} left {where}",
    AlertKind.GEOFENCE_CROSS: "{who} crossed {where}",
    AlertKind.VESSEL_OF_INTEREST: "Vessel of interest: {who}",
}


class Group(TypedDict):
    """An alert group as the group tables keep it: plain JSON, one key per field (no positions)."""

    id: str  # the alert id of the current episode
    key: str  # the zone, vessel or vessel pair
    version: int
    kind: str  # an AlertKind
    impact: str  # an Impact
    confidence: float
    zone_id: str
    route: str
    start_ts: float
    end_ts: float
    notified_ts: float
    event_ids: list[str]
    vessel_ids: list[str]
    lat: float | None
    lon: float | None
    detail: str
    emitted: bool  # an alert state of this episode has been published
    opened_at: float
    news_ts: NotRequired[float]  # the latest finding's time (a successor's start moves end_ts, not this)
    resolved: NotRequired[bool]
    closed: NotRequired[bool]  # an ended episode kept for late news (KEPT_AFTER_END)
    first_start_ts: NotRequired[float]  # a successor's: when the condition began (its first alert's start)
    partition: NotRequired[int]  # the partition whose detector keeps the group (added by the runtime)


def group_findings(
    findings: Iterable[Finding],
    groups: Mapping[str, Group],
    clock_ts: float,
    t: Thresholds,
    sent_at: datetime,
    zone_clock_ts: float | None = None,
    look_at_touched: bool = False,
) -> tuple[dict[str, Group | None], list[Alert]]:
    """Apply findings to the open groups; returns changed groups (None = closed) and alert states.

    One alert per episode: a group resolves when its condition has been clear
    for `clear_after_s` (or its detector says it ended), and closes after
    `max_open_s` however long the condition lasts; the next finding, or for
    kinds ended by their detector the group itself, opens a new alert with a
    new id. A rise in impact notifies again, as does a repeat after
    `repeat_interval_s`. Groups of crossings (surges, mass attempts) run on
    `zone_clock_ts`, the clock of interception reports, when it is given. With
    `look_at_touched` (a look for silent vessels), the groups of kinds their
    detector ends that this batch's findings touched are judged on the clock too.

    Long because an episode's whole life (open, update, resolve, close, reopen) is one pass
    over the findings, each branch a state of the machine; split, the state would be passed around.
    """

    def clock_of(kind: str) -> float:
        if zone_clock_ts is not None and zone_clock_ts > -math.inf and kind in ZONE_KINDS:
            return zone_clock_ts
        return clock_ts

    changed: dict[str, Group | None] = {}
    notify: dict[str, bool] = {}
    states: list[tuple[str, Group]] = []  # (group id, state to publish), in order

    def current(group_id: str) -> Group | None:
        return changed[group_id] if group_id in changed else groups.get(group_id)

    def publish(group_id: str, group: Group, notifies: bool) -> None:
        states.append((group_id, group))
        notify[group["id"]] = notify.get(group["id"], False) or notifies

    def close(group_id: str, group: Group, why: str) -> None:
        closed: Group = {**group, "resolved": True, "detail": f"{group['detail']}; {why}"}
        publish(group_id, closed, True)
        changed[group_id] = None

    for finding in findings:
        finding = _noted_late(finding, sent_at, t)
        group_id = finding.group_id
        group = current(group_id)
        if group is not None and _late_news_of(group, finding):
            if Impact(finding.impact).rank > Impact(group["impact"]).rank:  # as it would have, in time
                higher = finding.impact.value
                changed[group_id] = {**_without_closed(group), "impact": higher, "resolved": True}
                notify[group["id"]] = True  # a rise notifies: delivery sends only states that do
            continue
        ended: Group | None = None  # the episode before, when this finding opens a new one
        if group is not None and is_closed(group):
            ended, group = group, None  # a later episode
        if group is not None and group.get("resolved"):
            # Its episode ended earlier in this batch: as had the batch been cut between them, an end
            # finds no alert, and anything else is a new episode (a gap that opened and closed again).
            if not (finding.active or finding.kind is AlertKind.AIS_GAP):
                continue
            states.append((group_id, group))
            ended, group = group, None
        if group is not None and _stale_end(group, finding, t):
            continue
        by_detector = finding.kind in ENDED_BY_DETECTOR
        # A vessel's finding (news or end) is judged at its own time: read in one batch with later ones,
        # or found late, it is judged as it was in time, not on the batch's clock. A crossing's runs on
        # the crossing's own clock, one report at a time (steps.py).
        zone = finding.kind in ZONE_KINDS
        judged_at = max(clock_of(finding.kind.value), finding.ts) if zone else finding.ts
        while group is not None and _too_old(group, judged_at, t):
            close(group_id, group, f"closed after {t.max_open_s / 3600:g} h open")
            # A condition its detector ends went on: its successor starts when its predecessor closed
            # (were it opened from an end itself, it would take the first alert's start, and so its id).
            if by_detector:
                group = _successor(group, group["start_ts"] + t.max_open_s, sent_at)
            else:  # once: opened at the news's time, a successor judged again would close every second
                group = _successor(group, finding.ts, sent_at) if finding.active else None
            if group is not None:
                changed[group_id] = group
                notify[group["id"]] = True
            if not by_detector:
                break
        if finding.active:
            if group is None:
                group = _open(finding, sent_at, ended)
                notify[group["id"]] = True
            else:
                group = group.copy()
                raised = Impact(finding.impact).rank > Impact(group["impact"]).rank
                if raised or finding.ts - group["notified_ts"] >= t.repeat_interval_s:
                    notify[group["id"]] = True
                    group["notified_ts"] = finding.ts
                _merge(group, finding)
            changed[group_id] = group
        elif group is not None or finding.kind is AlertKind.AIS_GAP:
            # A gap can open and close between two looks (the vessel came back
            # first): it is still reported once, resolved, with its duration.
            group = group.copy() if group is not None else _open(finding, sent_at, ended)
            _merge(group, finding)
            group["resolved"] = True
            changed[group_id] = group
            notify[group["id"]] = True

    looked = {k: g for k, g in groups.items() if k not in changed and not is_closed(g)}
    if look_at_touched:  # found late, a condition its detector ends may be past its maximum on the clock
        looked.update({k: g for k, g in changed.items() if g is not None and g["kind"] in ENDED_BY_DETECTOR})
    for group_id, group in looked.items():
        kind = AlertKind(group["kind"])
        now = clock_of(kind)
        if kind not in ENDED_BY_DETECTOR:
            if _too_old(group, now, t):
                close(group_id, group, f"closed after {t.max_open_s / 3600:g} h open")
            elif now - group["end_ts"] >= t.clear_after_s:
                changed[group_id] = {**group, "resolved": True}
                notify[group["id"]] = True
            continue
        # The condition goes on: so does the alert, under a new id from when its predecessor closed,
        # whenever the look comes (the same ids in every batching), however many maximums it missed.
        while _too_old(group, now, t):
            close(group_id, group, f"closed after {t.max_open_s / 3600:g} h open")
            group = _successor(group, group["start_ts"] + t.max_open_s, sent_at)
            changed[group_id] = group
            notify[group["id"]] = True

    for group_id, group in changed.items():
        if group is not None and _clear(group, clock_of(AlertKind(group["kind"])), t):
            # Found late, its condition already clear this long: resolved now, not at the next look,
            # which comes sooner or later with the batching.
            changed[group_id] = group = {**group, "resolved": True}
        if group is not None:
            states.append((group_id, group))
    alerts = []
    for group_id, group in states:
        alerts.append(_alert(group, notify.get(group["id"], False), sent_at))
        if changed.get(group_id) is group:
            changed[group_id] = _after_publish(group)
    return changed, alerts


def _after_publish(group: Group) -> Group | None:
    """What the table keeps of a group whose state was just published (None: nothing)."""
    if not group.get("resolved"):
        return {**group, "version": group["version"] + 1}
    if AlertKind(group["kind"]) in KEPT_AFTER_END:
        return {**group, "version": group["version"] + 1, "closed": True}
    return None


def _late_news_of(group: Group, finding: Finding) -> bool:
    """An ended episode's news that comes after its end (from another partition's cells): the finding
    started within the episode and is dated before its end."""
    if not (group.get("resolved") or group.get("closed")) or not finding.active:
        return False
    if finding.kind not in KEPT_AFTER_END:
        return False
    start = finding.start_ts if finding.start_ts is not None else finding.ts
    # A successor's episode began with its predecessor's: news from then is of the same meeting.
    return group.get("first_start_ts", group["start_ts"]) <= start and finding.ts <= group["end_ts"]


def _without_closed(group: Group) -> Group:
    kept = group.copy()
    kept.pop("closed", None)
    return kept


def is_closed(group: Group) -> bool:
    """An ended episode kept for late news (no alert of it is open)."""
    return bool(group.get("closed"))


def _stale_end(group: Group, finding: Finding, t: Thresholds) -> bool:
    """An encounter's end dated well before its alert's latest news: the pair has been seen together
    since, in a cell beyond the reach of the one that ends it; that cell keeps the pair, and ends it."""
    late_by = _news_ts(group) - finding.ts
    return finding.kind is AlertKind.ENCOUNTER and not finding.active and late_by > t.encounter_max_dt_s


def _news_ts(group: Group) -> float:
    """When the group's latest finding came (a group stored before `news_ts` was kept: its end)."""
    return group.get("news_ts", group["end_ts"])


def _noted_late(finding: Finding, sent_at: datetime, t: Thresholds) -> Finding:
    """A finding raised well after its evidence arrived (a backfill, a worker catching up) says so.

    The evidence arrived when the centre reported it (`reported_at` in the
    facts of zone findings) or, for vessels, at its event time (AIS is near
    real time). The delay is wall-clock time, so it is in the text only: the
    alert's id, impact and window never depend on it.
    """
    if not finding.active:
        return finding
    arrived = finding.facts.get("reported_at", finding.ts)
    delay_s = sent_at.timestamp() - arrived
    if delay_s <= t.late_alert_s:
        return finding
    note = f"found late: raised {_duration(delay_s)} after its evidence arrived (catch-up or backfill)"
    return dataclasses.replace(finding, detail=f"{finding.detail}; {note}" if finding.detail else note)


def _duration(seconds: float) -> str:
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _clear(group: Group, now_ts: float, t: Thresholds) -> bool:
    """Open, of a kind that clears, and clear for `clear_after_s` on its clock."""
    kind = AlertKind(group["kind"])
    resolved = group.get("resolved")
    return not resolved and kind not in ENDED_BY_DETECTOR and now_ts - group["end_ts"] >= t.clear_after_s


def _too_old(group: Group, now_ts: float, t: Thresholds) -> bool:
    return not group.get("resolved") and now_ts - group["start_ts"] >= t.max_open_s


def _successor(group: Group, start_ts: float, opened_at: datetime) -> Group:
    """A new alert for a condition that outlasted its group's maximum time open."""
    start = max(start_ts, group["start_ts"] + 1)
    group_id = f"{group['kind']}:{group['key']}"
    return {
        **group, "id": alert_id(group_id, start), "version": 1, "start_ts": start,
        "end_ts": max(group["end_ts"], start), "news_ts": _news_ts(group),
        "first_start_ts": group.get("first_start_ts", group["start_ts"]),
        "notified_ts": start, "emitted": False,
        "opened_at": opened_at.timestamp(), "resolved": False,
        "detail": f"{group['detail']}; continues the alert {group['id']}",
    }  # fmt: skip


def alert_id(group_id: str, start_ts: float) -> str:
    """An alert id that needs no shell quoting: `[A-Za-z0-9._:+-]` only.

    A group id with other characters (a track id from a report can hold
    anything printable) keeps the safe ones and gains a hash of the whole, so
    two groups never share an id.
    """
    safe = "".join(c if c in _SAFE else "-" for c in group_id.replace("|", "+"))
    if safe != group_id.replace("|", "+"):
        safe = f"{safe}-{hashlib.blake2s(group_id.encode(), digest_size=4).hexdigest()}"
    return f"{safe}:{int(start_ts)}"


_SAFE = frozenset(string.ascii_letters + string.digits + "._:+-")


def _open(finding: Finding, opened_at: datetime, ended: Group | None = None) -> Group:
    """A new episode's group; never under the id of the episode that `ended` before it, nor of those it
    continued (a finding can date its condition from the first one's start, and a second version 1 of
    one id would be lost): such a finding starts after the ended one, and keeps when it began."""
    start = finding.start_ts if finding.start_ts is not None else finding.ts
    began = None
    if ended is not None:
        first = ended.get("first_start_ts", ended["start_ts"])
        if int(first) <= int(start) <= int(ended["start_ts"]):  # one of the chain's ids (alert_id's int)
            began, start = first, ended["start_ts"] + 1
    group: Group = {
        "id": alert_id(finding.group_id, start),
        "key": finding.group,
        "version": 1,
        "kind": finding.kind.value,
        "impact": finding.impact.value,
        "confidence": finding.confidence,
        "zone_id": finding.zone_id,
        "route": finding.route,
        "start_ts": start,
        "end_ts": finding.ts,
        "news_ts": finding.ts,
        "notified_ts": finding.ts,
        "event_ids": list(finding.event_ids),
        "vessel_ids": list(finding.vessel_ids),
        "lat": finding.lat,
        "lon": finding.lon,
        "detail": finding.detail,
        "emitted": False,
        "opened_at": opened_at.timestamp(),
    }
    if began is not None:
        group["first_start_ts"] = began
    return group


def _merge(group: Group, finding: Finding) -> None:
    if Impact(finding.impact).rank > Impact(group["impact"]).rank:
        group["impact"] = finding.impact.value
    group["confidence"] = max(group["confidence"], finding.confidence)
    group["end_ts"] = max(group["end_ts"], finding.ts)
    group["news_ts"] = max(_news_ts(group), finding.ts)
    group["event_ids"] = _union(group["event_ids"], finding.event_ids)
    group["vessel_ids"] = _union(group["vessel_ids"], finding.vessel_ids)
    group["zone_id"] = group["zone_id"] or finding.zone_id
    group["route"] = group["route"] or finding.route
    if finding.lat is not None:
        group["lat"], group["lon"] = finding.lat, finding.lon
    if finding.detail:
        group["detail"] = finding.detail + _whole_meeting(group, finding)


def _whole_meeting(group: Group, finding: Finding) -> str:
    """A meeting's finding from a cell that saw only its later part (the pair moved across grid cells)
    counts its minutes there; the alert says how long the whole meeting has lasted."""
    if finding.kind is not AlertKind.ENCOUNTER or finding.start_ts is None:
        return ""
    if finding.start_ts - group["start_ts"] < 60:
        return ""
    return f"; together {_duration(finding.ts - group['start_ts'])} in all, across grid cells"


def _union(old: list[str], new: Iterable[str]) -> list[str]:
    known = set(old)  # as `x not in old`, without a scan of the list for each of up to 50 ids
    merged = old + [x for x in new if x not in known]
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
_OPTIONAL_NUMBERS = ("news_ts", "first_start_ts")
_OPTIONAL_FLAGS = ("resolved", "closed")


def is_group(value: Any) -> bool:
    """Does a stored value have the shape `group_findings` reads (a changelog record is input too)?"""
    if not isinstance(value, dict) or not isinstance(value.get("partition"), int):
        return False
    if not isinstance(value.get("key"), str) or not isinstance(value.get("id"), str):
        return False
    try:
        present = [*_NUMBERS, *(k for k in _OPTIONAL_NUMBERS if k in value)]
        numbers_ok = all(type(value[k]) in (int, float) for k in present)
        numbers_ok = numbers_ok and all(type(value[k]) is bool for k in _OPTIONAL_FLAGS if k in value)
        Impact(value["impact"])
        AlertKind(value["kind"])
        _alert(cast(Group, dict(value)), False, datetime.now(UTC))
    except (KeyError, TypeError, ValueError):
        return False
    return numbers_ok
