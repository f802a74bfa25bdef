"""Analyst queries for the live picture (streams/web/picture.py): the situation in a window of event time,
one alert in full, reporting health per authority, and the pulse the page's event stream watches.

Every query is bounded by a LIMIT of its own; they run in the caged analyst session
(streams/analyst/session.py), never in ingest's. The shaping of rows (impact per section, a track cut
into lit and dark stretches) is pure and lives here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.sinks.clickhouse.alert_table import SELECT_ALERTS

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

MAX_ALERTS_PAGE = 200
MAX_SECTIONS = 1000
MAX_TRACKED_VESSELS = 20
MAX_FIXES_PER_VESSEL = 500
MAX_EVIDENCE = 50
MAX_VERSIONS = 50
MAX_AUTHORITIES = 100
MAX_BUCKETS = 168  # a week in hours
MAX_SERIES_CROSSINGS = 8
DARK_GAP = timedelta(hours=6)  # the AIS-gap detector's default
TRACK_LEAD = timedelta(hours=12)  # positions before an alert's window, to show where the vessel came from
HEALTH_SPAN = timedelta(days=7)  # reporting health looks at what was received in the last week
IMPACT_RANK_SQL = "indexOf(['low', 'medium', 'high', 'very_high'], impact)"


@dataclass(frozen=True)
class Window:
    """A span of event time, [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:  # a person's mistake: a ValueError the page shows as one line
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a window's start and end need a UTC offset")
        if self.end <= self.start:
            raise ValueError(f"the window ends ({self.end.isoformat()}) before it starts")
        if self.end - self.start > timedelta(days=366):
            raise ValueError("a window is at most 366 days")

    @property
    def bucket_s(self) -> int:
        """Chart bucket: a whole number of minutes, hours or days, at most MAX_BUCKETS in the window."""
        span_s = (self.end - self.start).total_seconds()
        for step in (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400):
            if span_s / step <= MAX_BUCKETS:
                return step
        return 7 * 86400


@dataclass(frozen=True)
class AlertFilter:
    """The alerts list's filters (None: any) and its page."""

    kind: AlertKind | None = None
    impact: Impact | None = None
    zone: str | None = None
    status: AlertStatus | None = None
    offset: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if not 0 <= self.offset <= 100_000 or not 1 <= self.limit <= MAX_ALERTS_PAGE:
            raise ValueError(f"offset is 0 to 100000 and limit 1 to {MAX_ALERTS_PAGE}")


@dataclass(frozen=True)
class Fix:
    """One vessel position."""

    at: datetime
    lat_deg: float
    lon_deg: float


@dataclass(frozen=True)
class Stretch:
    """Consecutive positions of one track; `dark` when it spans a gap in reporting (an AIS gap)."""

    dark: bool
    points: list[tuple[float, float]]
    start: datetime
    end: datetime


def cut_track(fixes: Sequence[Fix], gap: timedelta) -> list[Stretch]:
    """A track as stretches: lit ones through its positions, and a dark one across each silence of at least
    `gap` (from the last position before it to the first after)."""
    stretches: list[Stretch] = []
    lit: list[Fix] = []
    for fix in fixes:
        if lit and fix.at - lit[-1].at >= gap:
            stretches.append(_stretch(False, lit))
            stretches.append(_stretch(True, [lit[-1], fix]))
            lit = []
        lit.append(fix)
    if lit:
        stretches.append(_stretch(False, lit))
    return [s for s in stretches if s.dark or len(s.points) > 1 or len(stretches) == 1]


def _stretch(dark: bool, fixes: Sequence[Fix]) -> Stretch:
    return Stretch(dark, [(f.lat_deg, f.lon_deg) for f in fixes], fixes[0].at, fixes[-1].at)


def section_impacts(open_alerts: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, str]]:
    """The highest impact of the open alerts per crossing (zone) and per route area, from (zone_id, route,
    impact) rows."""
    zones: dict[str, Impact] = {}
    routes: dict[str, Impact] = {}
    for zone_id, route, impact_text in open_alerts:
        impact = Impact(impact_text)
        for key, found in ((zone_id, zones), (route, routes)):
            if key and (key not in found or impact.rank > found[key].rank):
                found[key] = impact
    return {
        "zones": {key: value.value for key, value in sorted(zones.items())},
        "routes": {key: value.value for key, value in sorted(routes.items())},
    }


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def _rows(client: Client, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters)
    return [
        {name: _iso(value) for name, value in zip(result.column_names, row)} for row in result.result_rows
    ]


def event_extent(client: Client, db: str) -> dict[str, Any]:
    """The oldest and newest event time stored ("now" on the page is the newest), and the events count."""
    rows = _rows(
        client, "SELECT min(observed_at) AS first, max(observed_at) AS newest, count() AS events "
        f"FROM {db}.events",
        {},
    )  # fmt: skip
    row = rows[0]
    if not row["events"]:
        return {"first": None, "newest": None, "events": 0}
    return row


def pulse(client: Client, db: str) -> dict[str, Any]:
    """What changes when reports or alerts arrive: the event stream pushes it when it differs."""
    sql = (
        f"SELECT (SELECT count() FROM {db}.events) AS events, (SELECT max(observed_at) FROM {db}.events) "
        f"AS newest, (SELECT count() FROM {db}.alerts) AS alert_states, (SELECT max(inserted_at) FROM "
        f"{db}.alerts) AS alerts_changed, (SELECT count() FROM {db}.rejects) AS rejects"
    )
    return _rows(client, sql, {})[0]


def _alert_rows(client: Client, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    alerts = []
    for row in client.query(sql, parameters=parameters).named_results():
        row["lat"], row["lon"] = row.pop("lat_deg"), row.pop("lon_deg")
        for name in ("window_start", "window_end", "opened_at", "sent_at"):
            if row[name].tzinfo is None:
                row[name] = row[name].replace(tzinfo=UTC)
        alerts.append(Alert.model_validate(row).model_dump(mode="json"))
    return alerts


def live_window(newest: datetime | None, span_s: int) -> Window:
    """The `span_s` up to the newest event (its minute included): "now" is event time, not the wall clock."""
    end = (newest or datetime.now(UTC)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Window(end - timedelta(seconds=span_s), end)


def situation(client: Client, db: str, window: Window | int, wanted: AlertFilter) -> dict[str, Any]:
    """Everything the page draws for one window (or the last `window` seconds up to the newest event), in
    one answer (one analyst slot): counts per crossing and route, charts, the alerts page, section impacts,
    and the tracks of the vessels of open alerts."""
    extent = event_extent(client, db)
    if isinstance(window, int):
        newest = extent["newest"]
        window = live_window(datetime.fromisoformat(newest) if newest else None, window)
    params = {"start": window.start, "end": window.end, "bucket": window.bucket_s}
    in_window = "minute >= %(start)s AND minute < %(end)s"
    crossings = _rows(
        client,
        "SELECT crossing_id, route, sum(persons) AS persons, sum(reports) AS reports "
        f"FROM {db}.crossing_counts "
        f"WHERE {in_window} GROUP BY crossing_id, route ORDER BY persons DESC, crossing_id LIMIT 1000",
        params,
    )
    by_route = _rows(
        client,
        "SELECT toStartOfInterval(minute, toIntervalSecond(%(bucket)s)) AS t, route, "
        "sum(persons) AS persons, "
        f"sum(reports) AS reports FROM {db}.crossing_counts WHERE {in_window} GROUP BY t, route ORDER BY t, "
        f"route LIMIT {MAX_BUCKETS * 20}",
        params,
    )
    top = [row["crossing_id"] for row in crossings[:MAX_SERIES_CROSSINGS]]
    by_crossing = _rows(
        client,
        "SELECT toStartOfInterval(minute, toIntervalSecond(%(bucket)s)) AS t, crossing_id, sum(persons) AS "
        f"persons, sum(reports) AS reports FROM {db}.crossing_counts WHERE {in_window} AND crossing_id IN "
        f"%(top)s GROUP BY t, crossing_id ORDER BY t, crossing_id LIMIT {MAX_BUCKETS * MAX_SERIES_CROSSINGS}",
        {**params, "top": top or [""]},
    )
    alerts, total = _alerts_page(client, db, window, wanted)
    open_rows = client.query(
        f"SELECT zone_id, route, impact FROM {db}.alerts FINAL WHERE status != 'resolved' AND "
        f"window_start < %(end)s AND window_end >= %(start)s LIMIT {MAX_SECTIONS}",
        parameters=params,
    ).result_rows
    return {
        "window": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "bucket_s": window.bucket_s,
        },
        "extent": extent,
        "totals": {
            "persons": sum(int(row["persons"]) for row in crossings),
            "reports": sum(int(row["reports"]) for row in crossings),
            "alerts": total,
        },
        "crossings": crossings,
        "series": {"routes": by_route, "crossings": by_crossing, "bucket_s": window.bucket_s},
        "alerts": alerts,
        "alerts_page": {"offset": wanted.offset, "limit": wanted.limit, "total": total},
        "sections": section_impacts((str(z), str(r), str(i)) for z, r, i in open_rows),
        "tracks": vessel_tracks(client, db, window),
    }


def _alerts_page(
    client: Client, db: str, window: Window, wanted: AlertFilter
) -> tuple[list[dict[str, Any]], int]:
    """The latest state of the alerts overlapping the window, most severe first, filtered, one page."""
    where = ["window_start < %(end)s", "window_end >= %(start)s"]
    params: dict[str, Any] = {"start": window.start, "end": window.end}
    for column, value in (("kind", wanted.kind), ("impact", wanted.impact), ("zone_id", wanted.zone),
                          ("status", wanted.status)):  # fmt: skip
        if value is not None:
            where.append(f"{column} = %({column})s")
            params[column] = str(value)
    clause = " AND ".join(where)
    total = int(client.query(f"SELECT count() FROM {db}.alerts FINAL WHERE {clause}", parameters=params)
                .result_rows[0][0])  # fmt: skip
    alerts = _alert_rows(
        client,
        f"SELECT {SELECT_ALERTS} FROM {db}.alerts FINAL WHERE {clause} ORDER BY {IMPACT_RANK_SQL} DESC, "
        f"window_end DESC, id LIMIT {wanted.limit} OFFSET {wanted.offset}",
        params,
    )
    return alerts, total


def vessel_tracks(client: Client, db: str, window: Window) -> list[dict[str, Any]]:
    """The tracks of the vessels of open alerts overlapping the window, up to the window's end."""
    params = {"start": window.start, "end": window.end}
    keys = [
        str(row[0])
        for row in client.query(
            f"SELECT DISTINCT arrayJoin(vessel_ids) AS v FROM {db}.alerts FINAL WHERE status != 'resolved' "
            f"AND window_start < %(end)s AND window_end >= %(start)s ORDER BY v LIMIT {MAX_TRACKED_VESSELS}",
            parameters=params,
        ).result_rows
    ]
    return tracks_of(client, db, keys, Window(window.start - TRACK_LEAD, window.end))


def tracks_of(
    client: Client, db: str, keys: Sequence[str], window: Window, gap: timedelta = DARK_GAP
) -> list[dict[str, Any]]:
    """Vessels' tracks in a window (the newest MAX_FIXES_PER_VESSEL positions each), cut into lit and dark
    stretches (a silence of at least `gap`, the AIS-gap detector's default)."""
    if not keys:
        return []
    rows = client.query(
        f"SELECT vessel_key, observed_at, lat_deg, lon_deg FROM {db}.vessel_positions WHERE vessel_key IN "
        "%(keys)s AND observed_at >= %(start)s AND observed_at < %(end)s "
        "ORDER BY vessel_key, observed_at DESC "
        f"LIMIT {MAX_FIXES_PER_VESSEL} BY vessel_key",
        parameters={"keys": list(keys)[:MAX_TRACKED_VESSELS], "start": window.start, "end": window.end},
    ).result_rows
    fixes: dict[str, list[Fix]] = {}
    for key, at, lat, lon in rows:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        fixes.setdefault(str(key), []).append(Fix(at, float(lat), float(lon)))
    return [
        {"vessel": key, "stretches": [
            {"dark": s.dark, "points": s.points, "start": s.start.isoformat(), "end": s.end.isoformat()}
            for s in cut_track(sorted(track, key=lambda f: f.at), gap)
        ]}
        for key, track in sorted(fixes.items())
    ]  # fmt: skip


def alert_detail(client: Client, db: str, alert_id: str) -> dict[str, Any] | None:
    """One alert: its latest state, the versions the table still holds, and its evidence (at most
    MAX_EVIDENCE reports)."""
    latest = _alert_rows(client, f"SELECT {SELECT_ALERTS} FROM {db}.alerts FINAL WHERE id = %(id)s LIMIT 1",
                         {"id": alert_id})  # fmt: skip
    if not latest:
        return None
    versions = _rows(
        client,
        "SELECT version, status, impact, confidence, headline, window_start, window_end, sent_at "
        f"FROM {db}.alerts WHERE id = %(id)s ORDER BY version DESC LIMIT 1 BY version LIMIT {MAX_VERSIONS}",
        {"id": alert_id},
    )
    wanted = latest[0]["event_ids"][:MAX_EVIDENCE]
    evidence = _rows(
        client,
        "SELECT authority, report_id, kind, observed_at, received_at, crossing_id, incident_type, persons, "
        f"vessel_key FROM {db}.events WHERE concat(authority, ':', report_id) IN %(ids)s "
        "ORDER BY observed_at "
        f"LIMIT 1 BY authority, report_id LIMIT {MAX_EVIDENCE}",
        {"ids": wanted or [""]},
    )
    alert = latest[0]
    start, end = (datetime.fromisoformat(alert[name]) for name in ("window_start", "window_end"))
    around = Window(start - TRACK_LEAD, end + timedelta(hours=1))
    return {
        "alert": alert, "versions": versions, "evidence": evidence, "evidence_total": len(alert["event_ids"]),
        "tracks": tracks_of(client, db, alert["vessel_ids"], around),
    }  # fmt: skip


def reporting_health(client: Client, db: str) -> dict[str, Any]:
    """Per authority, over what was received in the last HEALTH_SPAN (wall clock, back from the newest
    receipt): the last report, the lag observed_at → received_at (p50, p95), the share received more than
    24 h after the event, and the rejection rate with its top reasons."""
    span_s = int(HEALTH_SPAN.total_seconds())
    since = f"(SELECT max(received_at) FROM {db}.events) - toIntervalSecond({span_s})"
    authorities = _rows(
        client,
        "SELECT authority, count() AS reports, max(received_at) AS last_received, max(observed_at) AS "
        "last_observed, quantile(0.5)(lag_s) AS lag_p50_s, quantile(0.95)(lag_s) AS lag_p95_s, "
        "countIf(lag_s > 86400) / count() AS late_share FROM (SELECT authority, received_at, observed_at, "
        "dateDiff('second', observed_at, received_at) AS lag_s "
        f"FROM {db}.events WHERE received_at >= {since}) "
        f"GROUP BY authority ORDER BY authority LIMIT {MAX_AUTHORITIES}",
        {},
    )
    rejects = client.query(
        "SELECT JSONExtractString(raw, 'authority') AS authority, reason, count() AS n FROM "
        f"{db}.rejects WHERE received_at >= (SELECT max(received_at) FROM {db}.rejects) "
        f"- toIntervalSecond({span_s}) "
        "GROUP BY authority, reason "
        f"ORDER BY n DESC LIMIT {MAX_AUTHORITIES * 5}",
    ).result_rows
    return {"span_s": span_s, "authorities": merge_rejects(authorities, rejects)}


def merge_rejects(
    authorities: list[dict[str, Any]], rejects: Sequence[Sequence[Any]], top: int = 3
) -> list[dict[str, Any]]:
    """Each authority's row with its rejected count, rejection rate and top reasons; an authority whose
    every message was refused (or unreadable: '') gets a row of its own."""
    by_name = {row["authority"]: {**row, "rejected": 0, "reasons": []} for row in authorities}
    for authority, reason, count in rejects:
        row = by_name.setdefault(str(authority), {
            "authority": str(authority), "reports": 0, "last_received": None, "last_observed": None,
            "lag_p50_s": None, "lag_p95_s": None, "late_share": None, "rejected": 0, "reasons": [],
        })  # fmt: skip
        row["rejected"] += int(count)
        if len(row["reasons"]) < top:
            row["reasons"].append({"reason": str(reason), "count": int(count)})
    for row in by_name.values():
        handled = row["reports"] + row["rejected"]
        row["rejection_rate"] = row["rejected"] / handled if handled else 0.0
    return sorted(by_name.values(), key=lambda row: row["authority"])
