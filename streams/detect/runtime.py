"""Detect stage runtime: runs the pure detectors over one partition's batch and its table state.

The tables are passed in as mappings (Faust tables in the worker, dicts in
tests). Each key is read and written at most once per batch: Faust writes a
changelog record per assignment. Faust's changelogs are JSON, so keys are
strings and values JSON data; a vessel's packed state travels as a latin-1
string (one character per byte, about 110 bytes in memory).
"""

from __future__ import annotations

import math
import struct
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, NamedTuple

from geo.catalogue import Catalogue
from geo.ports import Ports
from schemas.alerts import Alert, AlertKind
from schemas.transitions import Transition
from streams.detect.baseline import Baselines
from streams.detect.clock import EventClock, clocks_from_json, clocks_to_json
from streams.detect.columns import CELL_COLUMNS, CellRow, CellsMessage, DetectBatch, partition_of
from streams.detect.crossings import CrossingContext, CrossingHistory, CrossingState, Sighting
from streams.detect.encounters import CellFix, CellState, detect_encounters
from streams.detect.findings import Finding
from streams.detect.grouping import ZONE_KINDS, Group, group_findings, is_closed, is_group
from streams.detect.meeting_news import (
    AdoptedGroup,
    DatedFinding,
    MeetingHold,
    MeetingNews,
    hold_from_json,
    hold_to_json,
    take_news,
)
from streams.detect.seed import load_seed
from streams.detect.steps import CrossingPlace, run_crossing
from streams.detect.thresholds import Thresholds
from streams.detect.transition_rules import NO_RULES, TransitionRules
from streams.detect.vessels import (
    GAP_OPEN,
    LOITERING,
    VesselContext,
    VesselState,
    end_silent_loitering,
    find_gaps,
    forget_silent,
    track_vessels,
)
from streams.detect.watchlist import WatchListFile

Table = MutableMapping[str, Any]


@dataclass
class DetectStats:
    """What the detectors have seen, for /status."""

    batches: int = 0
    fixes: int = 0
    sightings: int = 0
    too_late: int = 0
    alerts: int = 0
    cpu_s: float = 0.0  # CPU time of the detect thread in detection code (see streams/worker/agents.py)


class CachedCrossing(NamedTuple):
    """A crossing's values as last written to its tables, and the objects they were encoded from."""

    stored: Any  # the value written to the crossings table
    learned: Any  # the value written to the crossing_history table
    state: CrossingState
    history: CrossingHistory


@dataclass
class TrackResult:
    """What one batch of `detect.tracks` gives: alert states, and every geofence transition (data)."""

    alerts: list[Alert] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)


@dataclass
class TrackDetector:
    """Vessel behaviour, surges and mass attempts for the partitions of `detect.tracks`."""

    thresholds: Thresholds
    catalogue: Catalogue
    ports: Ports
    watch: WatchListFile
    partitions: int
    scanned_at: dict[int, float] = field(default_factory=dict)
    stats: DetectStats = field(default_factory=DetectStats)
    transition_rules: TransitionRules = NO_RULES
    # The objects behind the crossing values this detector last wrote, so that a
    # crossing seen again is not decoded again.
    written: dict[str, CachedCrossing] = field(default_factory=dict)

    def on_batch(
        self,
        partition: int,
        batch: DetectBatch,
        wall_now: float,
        vessels: Table,
        crossings: Table,
        histories: Table,
        groups: Table,
        clocks: Table,
        published_at: datetime | None = None,
    ) -> TrackResult:
        """One batch (or an empty tick) of one partition; returns the alert states and transitions.

        `wall_now` is when the batch was sent; its alerts are sent at `published_at` (by default then).

        Long because it is the order of one batch (clocks, fixes, crossings, gaps, groups, tables)
        written out once; each step is a call.
        """
        t = self.thresholds
        # Vessels and interception reports keep clocks of their own: AIS is near real time, centres
        # report hours late, and the two topics are read at their own pace.
        named = clocks_from_json(clocks.get(str(partition)), TRACK_CLOCKS)
        clock, reports_clock = named["fixes"], named["reports"]
        reports_before = EventClock(reports_clock.newest_ts, reports_clock.wall_at_newest)
        newest_fix = _newest_fix(batch.fixes["ts"], batch.newest_fix_ts)
        moved = newest_fix is not None and clock.observe(newest_fix, wall_now)
        if batch.sightings["ts"]:
            moved = reports_clock.observe(max(batch.sightings["ts"]), wall_now) or moved
        if moved:  # a changelog record only when a clock moved: every partition hears every batch
            clocks[str(partition)] = clocks_to_json(named)
        if clock.newest_ts == -math.inf and reports_clock.newest_ts == -math.inf:
            return TrackResult()
        now_ts = max(clock.now(wall_now, t.live_within_s), reports_clock.now(wall_now, t.live_within_s))
        scan = now_ts - self.scanned_at.get(partition, -math.inf) >= t.gap_check_s
        self.stats.batches += 1
        self.stats.fixes += len(batch.fixes["ts"])
        self.stats.sightings += len(batch.sightings["ts"])

        rules = self.transition_rules
        ctx = VesselContext(t, self.catalogue.crossings, self.ports, self.watch.refresh(), rules)
        keys = set(batch.fixes["vessel"])
        states = {k: _unpack(vessels[k]) for k in keys if k in vessels}
        changed, findings, transitions = track_vessels(batch.fixes, states, ctx)
        forgotten: list[str] = []
        if scan:
            forgotten, silent, found = self._look_for_silent(vessels, changed, partition, now_ts)
            changed.update(silent)
            findings += found
        for key, state in changed.items():
            vessels[key] = state.pack().decode("latin-1")
        for key in forgotten:
            del vessels[key]

        sent_at = published_at or datetime.fromtimestamp(wall_now, UTC)
        zone_alerts = self._crossings(
            partition, batch, crossings, histories, groups, reports_before, wall_now, scan, sent_at
        )
        if scan:
            self.scanned_at[partition] = now_ts
        vessels_ts = clock.now(wall_now, t.live_within_s)
        alerts = _group(findings, groups, partition, vessels_ts, t, scan) + zone_alerts
        self.stats.alerts += len(alerts)
        return TrackResult(alerts, transitions)

    def _crossings(
        self,
        partition: int,
        batch: DetectBatch,
        table: Table,
        histories: Table,
        groups: Table,
        partition_clock: EventClock,
        wall_now: float,
        scan: bool,
        sent_at: datetime,
    ) -> list[Alert]:
        """Sightings by crossing, in arrival order; on a scan, quiet crossings too (their hours close,
        their windows age, their alerts resolve on their own clock when it runs on wall time).

        A crossing's learned history is written only on the batch that closes a
        day: it is most of a crossing's state, and every write goes to the changelog.
        """
        by_crossing: dict[str, list[Sighting]] = defaultdict(list)
        s = batch.sightings
        for event_id, crossing, ts, persons, reported in zip(
            s["event_id"], s["crossing"], s["ts"], s["persons"], s["reported"]
        ):
            by_crossing[crossing].append(Sighting(event_id, ts, persons, reported))
        if scan:
            for key, _ in self._own(table.items(), partition):
                by_crossing.setdefault(key, [])
        zones = self.catalogue.crossings
        alerts: list[Alert] = []
        for crossing, rows in by_crossing.items():
            stored, learned = table.get(crossing), histories.get(crossing)
            if stored is None and not rows:
                continue
            state, history = self._decoded(crossing, stored, learned)
            props = zones.props[zones.position[crossing]] if crossing in zones.position else {}
            where = CrossingPlace(crossing, str(props.get("kind", "")), str(props.get("route", "")))
            wanted = [f"{kind.value}:{crossing}" for kind in ZONE_KINDS]
            open_groups: dict[str, Group] = {k: groups[k] for k in wanted if k in groups}
            clock, ctx = partition_clock, self._crossing_ctx
            run = run_crossing(where, rows, state, history, open_groups, clock, wall_now, ctx, sent_at)
            if run.changed or stored is None:
                stored = table[crossing] = run.state.to_json()
            if run.history_changed or learned is None:
                learned = histories[crossing] = run.history.to_json()
            self.written[crossing] = CachedCrossing(stored, learned, run.state, run.history)
            for group_id in wanted:
                if group_id in run.groups:
                    groups[group_id] = {**run.groups[group_id], "partition": partition}
                elif group_id in groups:
                    del groups[group_id]
            self.stats.too_late += run.too_late
            alerts += run.alerts
        return alerts

    def _decoded(
        self, crossing: str, stored: Any, learned: Any
    ) -> tuple[CrossingState | None, CrossingHistory | None]:
        """The crossing's state and history: the objects written last if the table still holds them.

        Taken out of the cache while in use: a batch that fails halfway leaves
        them changed, and the next batch decodes the table's values again.
        """
        cached = self.written.pop(crossing, None)
        if cached is not None and cached.stored is stored and cached.learned is learned:
            return cached.state, cached.history
        state = CrossingState.from_json(stored) if stored is not None else None
        history = CrossingHistory.from_json(learned) if learned is not None else None
        return state, history

    @cached_property
    def _crossing_ctx(self) -> CrossingContext:
        seed = load_seed(operator_csv=self.thresholds.surge_history)
        return CrossingContext(self.thresholds, Baselines(seed, self.thresholds))

    def _look_for_silent(
        self, vessels: Table, changed: dict[str, VesselState], partition: int, now_ts: float
    ) -> tuple[list[str], dict[str, VesselState], list[Finding]]:
        """The partition's silent vessels: the long silent forgotten, loitering ended, gaps opened.

        Returns the vessels to forget, the states that change and the findings.
        Most vessels are not silent: only their last time is read before the rest is unpacked.
        """
        t = self.thresholds
        due, forget_by = now_ts - t.gap_s, now_ts - t.vessel_forget_s
        forgotten: list[str] = []
        findings: list[Finding] = []
        candidates: list[tuple[str, VesselState]] = []
        for key, stored in self._own(vessels.items(), partition):
            state = changed.get(key)  # it reported in this batch
            last_ts, flags = VesselState.last_seen(stored.encode("latin-1"))
            if state is None and last_ts <= forget_by:
                forgotten.append(key)
                findings += forget_silent(key, _unpack(stored), t, self.ports)
            elif state is not None or (last_ts <= due and (not flags & GAP_OPEN or flags & LOITERING)):
                candidates.append((key, state or _unpack(stored)))
        # Vessels first seen in this batch are not in the table yet: a catch-up batch's clock may be past
        # their silence already, and a replay's clock moves no more once it ends.
        candidates += [(key, state) for key, state in changed.items() if key not in vessels]
        stopped, ends = end_silent_loitering(candidates, now_ts, t)
        silent, gaps = find_gaps(((k, stopped.get(k, s)) for k, s in candidates), now_ts, t, self.ports)
        return forgotten, {**stopped, **silent}, findings + ends + gaps

    def _own(self, items: Iterable[tuple[str, Any]], partition: int) -> Iterable[tuple[str, Any]]:
        # A worker's table holds every partition it owns; a batch may only touch its own.
        return ((k, v) for k, v in items if partition_of(k, self.partitions) == partition)


@dataclass
class CellDetector:
    """Encounters for the partitions of `detect.cells`: findings, for `MeetingGrouper` to group by pair."""

    thresholds: Thresholds
    ports: Ports
    partitions: int
    swept_at: dict[int, float] = field(default_factory=dict)

    def on_batch(
        self,
        partition: int,
        message: CellsMessage,
        wall_now: float,
        cells: Table,
        clocks: Table,
        legacy_groups: Table,
    ) -> CellsResult:
        """One cells message of one partition; returns its encounter findings and its mark, and hands
        over the encounter groups that the release before kept on this partition."""
        t = self.thresholds
        adopted = _hand_over(legacy_groups, partition)
        rows = message.rows
        clock = clocks_from_json(clocks.get(str(partition)), CELL_CLOCKS)["fixes"]
        newest_fix = _newest_fix(rows["ts"], message.newest_fix_ts)
        if newest_fix is not None and clock.observe(newest_fix, wall_now):
            clocks[str(partition)] = clocks_to_json({"fixes": clock})
        if clock.newest_ts == -math.inf:
            return CellsResult([], -math.inf, adopted)
        now_ts = clock.now(wall_now, t.live_within_s)
        by_cell = _by_cell(rows, cells, t.encounter_max_kn)
        found: list[DatedFinding] = []
        live_ts = now_ts if clock.is_live(t.live_within_s) else -math.inf
        for cell, fixes in by_cell.items():
            stored = cells.get(cell)
            state = CellState.from_json(stored) if stored else CellState()
            # One fix at a time, oldest first, on the cell's own clock (its newest fix; wall time
            # while live): what other cells of the partition see never settles this cell's pairs.
            cell_ts = max((v.ts for v in state.vessels.values()), default=-math.inf)
            # Within the batch the cell's clock is its fixes' own time: a batch of two hours read live
            # must not age its first fixes by the batch's end. The live clock counts once, after them.
            touched = False
            for fix in sorted(fixes, key=lambda f: f.ts):
                if fix.sog >= t.encounter_max_kn and fix.vessel not in state.vessels:
                    continue  # passing through, as detect_encounters skips it: not even the clock moves
                touched = True
                cell_ts = max(cell_ts, fix.ts)
                found += _dated(cell_ts, detect_encounters(cell, [fix], state, cell_ts, t, self.ports))
            if not touched:
                continue
            if live_ts > cell_ts:
                found += _dated(live_ts, detect_encounters(cell, [], state, live_ts, t, self.ports))
            if state.vessels or state.pairs:
                cells[cell] = state.to_json()
            elif stored:
                del cells[cell]
        if now_ts - self.swept_at.get(partition, -math.inf) >= t.gap_check_s:
            self.swept_at[partition] = now_ts
            found += self._sweep(partition, cells, by_cell.keys(), now_ts)
        # In the order they were found, whatever the cell: a pair on a cell edge is kept by each cell
        # its noise reaches, and one cell's end must come after the others' news, as it does when the
        # fixes come one by one.
        return CellsResult(sorted(found, key=lambda dated: dated.found_ts), now_ts, adopted)

    def _sweep(
        self, partition: int, cells: Table, touched: Container[str], now_ts: float
    ) -> list[DatedFinding]:
        """The partition's cells that nothing has reached for `encounter_dark_max_s` (and the reports'
        allowed lateness), settled and dropped.

        All that is left in such a cell can only end: a pair dark past its time,
        vessels long gone. A cell no fix comes to again would otherwise keep them,
        and its encounter alert open, for ever. A fix coming to it later settles it
        the same way first (`detect_encounters`). An end older than its alert's news
        finds the pair together elsewhere: grouping drops it (`_stale_end`).
        """
        t = self.thresholds
        horizon = now_ts - encounter_horizon_s(t)
        found: list[DatedFinding] = []
        for cell, stored in list(cells.items()):
            if cell in touched or CellState.last_seen_of(stored) >= horizon:
                continue
            if partition_of(cell, self.partitions) != partition:
                continue
            state = CellState.from_json(stored)
            found += _dated(now_ts, detect_encounters(cell, [], state, now_ts, t, self.ports))
            if state.vessels or state.pairs:
                cells[cell] = state.to_json()
            else:
                del cells[cell]
        return found


@dataclass
class CellsResult:
    """What one cells message gives: encounter findings in the order found, and the event time reached."""

    found: list[DatedFinding]
    mark_ts: float  # -inf before the partition's first fix
    adopted: list[AdoptedGroup] = field(default_factory=list)


class KeptHold(NamedTuple):
    """A meetings partition's hold in memory, and the table value it was read from or written as."""

    stored: object
    hold: MeetingHold


def _hand_over(legacy_groups: Table, partition: int) -> list[AdoptedGroup]:
    """The encounter groups the release before kept in `cell_alert_groups` under this cells partition,
    taken out of it (the deletes reach that partition's changelog) to be handed to their pairs' meetings
    partitions. Its changelog may hold older copies under other partitions: each is handed over by its
    own partition, and the meetings partition keeps the newest (`MeetingGrouper._adopt`)."""
    mine = [(key, group) for key, group in legacy_groups.items() if group.get("partition") == partition]
    for key, _ in mine:
        del legacy_groups[key]
    return [AdoptedGroup(key, dict(group)) for key, group in mine]


@dataclass
class MeetingGrouper:
    """Encounter alerts for the partitions of `detect.meetings`: each pair's findings grouped on the
    partition of the pair, in event-time order across the cells partitions (meeting_news.py)."""

    thresholds: Thresholds
    partitions: int
    swept_at: dict[int, float] = field(default_factory=dict)
    # Each partition's hold as last used, with the table value it came from: most news only moves a
    # mark, and is neither decoded from the table nor written to its changelog again.
    kept: dict[int, KeptHold] = field(default_factory=dict)

    def on_news(self, partition: int, news: MeetingNews, holds: Table, groups: Table) -> list[Alert]:
        """One message of news; returns the alert states of the findings it lets through."""
        t = self.thresholds
        keys = [h.finding.group_id for h in news.found] + [g.key for g in news.adopted]
        strays = [key for key in keys if partition_of(key, self.partitions) != partition]
        if strays:
            raise ValueError(f"news of pairs whose meetings partition is not {partition}: {strays[0]}")
        if not all(is_group(g.group) and g.group["kind"] == AlertKind.ENCOUNTER for g in news.adopted):
            raise ValueError("news handing over something that is no encounter group")
        hold = self._hold(partition, holds)
        released = take_news(hold, [news], self.partitions, t.live_within_s)
        if news.found or news.adopted or released.findings:
            # What waits, and what was taken, must outlive a crash. Marks alone need not: a restarted
            # worker holds its findings until every cells partition has sent news again.
            stored = holds[str(partition)] = hold_to_json(hold)
            self.kept[partition] = KeptHold(stored, hold)
        now_ts = released.watermark_ts
        self._adopt(news.adopted, groups, partition, now_ts)
        if now_ts > -math.inf and now_ts - self.swept_at.get(partition, -math.inf) >= t.gap_check_s:
            self.swept_at[partition] = now_ts
            _forget_closed(groups, partition, now_ts - encounter_horizon_s(t))
        return _group(released.findings, groups, partition, now_ts, t, scan=False)

    @property
    def held(self) -> dict[int, int]:
        """Findings waiting, per partition this worker has held news for (for /status)."""
        return {partition: len(kept.hold.held) for partition, kept in self.kept.items()}

    def _hold(self, partition: int, holds: Table) -> MeetingHold:
        """The partition's hold: as last used, unless the table holds another value (a recovery)."""
        stored = holds.get(str(partition))
        kept = self.kept.get(partition)
        if kept is not None and kept.stored is stored:
            return kept.hold
        hold = hold_from_json(stored)
        self.kept[partition] = KeptHold(stored, hold)
        return hold

    def _adopt(self, adopted: Sequence[AdoptedGroup], groups: Table, partition: int, now_ts: float) -> None:
        """Keep each handed-over group unless a newer one of its pair is kept already, or its last news
        is older than anything is kept for (an old copy of a group since forgotten).

        Newer by its alert's start, then by version: versions count from 1 again for each alert of a
        pair, and an old copy of its earlier alert may have had more states than its newer alert yet."""
        horizon = now_ts - encounter_horizon_s(self.thresholds)
        for handed in adopted:
            kept = groups.get(handed.key)
            if kept is not None and _alert_state(kept) >= _alert_state(handed.group):
                continue
            if handed.group["end_ts"] < horizon:
                continue
            groups[handed.key] = {**handed.group, "partition": partition}


def _alert_state(group: Mapping[str, Any]) -> tuple[float, int]:
    """Where a pair's group is in the pair's alerts: its alert's start, then its version."""
    return group["start_ts"], group["version"]


def _dated(found_ts: float, findings: Iterable[Finding]) -> list[DatedFinding]:
    return [DatedFinding(found_ts, finding) for finding in findings]


def encounter_horizon_s(t: Thresholds) -> float:
    """How long a cell keeps what it last saw, and an ended meeting waits for late news."""
    return max(t.encounter_dark_max_s, t.allowed_lateness_s)


def _forget_closed(groups: Table, partition: int, before_ts: float) -> None:
    """Drop the partition's ended meetings kept for late news, once the news is older than its cells
    keep anything (a cell that has forgotten the pair cannot send more of it)."""
    for group_id, group in list(groups.items()):
        if group.get("partition") == partition and is_closed(group) and group["end_ts"] < before_ts:
            del groups[group_id]


def _by_cell(rows: dict[str, list[Any]], cells: Table, max_kn: float) -> dict[str, list[CellFix]]:
    """The fixes of a cells message by cell.

    A fix under way counts only in a cell that may know its vessel (one with
    state, or with slow fixes in this message): most traffic is under way, and
    passing through costs no more than this.
    """
    by_cell: dict[str, list[CellFix]] = defaultdict(list)
    slow_cells = {c for c, sog in zip(rows["cell"], rows["sog"]) if not _under_way(sog, max_kn)}
    for row in map(CellRow._make, zip(*(rows[column] for column in CELL_COLUMNS))):
        if _under_way(row.sog, max_kn) and row.cell not in slow_cells and row.cell not in cells:
            continue
        sog = math.nan if row.sog is None else row.sog  # decoded: NaN already
        fix = CellFix(
            row.vessel, row.ts, row.lat, row.lon, sog, row.event_id, row.crossing, row.route, row.home
        )
        by_cell[row.cell].append(fix)
    return by_cell


def _newest_fix(ts: Sequence[float], batch_newest_ts: float | None) -> float | None:
    """A partition's newest fix in a message: its own, or the whole ingest batch's when newer (one
    partition's clock would have seen it); None for a message with neither (a tick)."""
    newest = max(ts, default=-math.inf)
    if batch_newest_ts is not None:
        newest = max(newest, batch_newest_ts)
    return None if newest == -math.inf else newest


def _under_way(sog: float | None, max_kn: float) -> bool:
    return sog is not None and sog >= max_kn  # False for NaN (unknown) too


def _group(
    findings: list[Finding],
    table: Table,
    partition: int,
    now_ts: float,
    t: Thresholds,
    scan: bool,
) -> list[Alert]:
    """Alert grouping with the group table: only the groups the findings touch, all of them on a scan.

    Groups of crossings (surges, mass attempts) are left to their crossings' own clocks (steps.py).
    """
    if not findings and not scan:
        return []
    wanted = {f.group_id for f in findings}
    groups: dict[str, Group] = {k: table[k] for k in wanted if k in table}
    if scan:
        # Group ids are not partition keys: each group records the partition it lives on.
        mine = ((k, g) for k, g in table.items() if g.get("partition") == partition)
        groups.update({k: g for k, g in mine if g["kind"] not in ZONE_KINDS})
    changed, alerts = group_findings(findings, groups, now_ts, t, datetime.now(UTC), look_at_touched=scan)
    for group_id, group in changed.items():
        if group is None:
            if group_id in table:
                del table[group_id]
        else:
            table[group_id] = {**group, "partition": partition}
    return alerts


def _unpack(stored: str) -> VesselState:
    return VesselState.unpack(stored.encode("latin-1"))


TRACK_CLOCKS = ("fixes", "reports")
CELL_CLOCKS = ("fixes",)


def is_track_clocks(stored: Any) -> bool:
    """A value of the `track_clocks` table: a partition's clocks of fixes and of reports."""
    return _decodes(lambda value: clocks_from_json(value, TRACK_CLOCKS), stored)


def is_cell_clocks(stored: Any) -> bool:
    """A value of the `cell_clocks` table."""
    return _decodes(lambda value: clocks_from_json(value, CELL_CLOCKS), stored)


def is_vessel_state(stored: Any) -> bool:
    """A value of the `vessels` table: a packed VesselState as latin-1."""
    try:
        VesselState.unpack(stored.encode("latin-1"))
    except (AttributeError, UnicodeError, ValueError, TypeError, struct.error):
        return False
    return True


def is_crossing_state(stored: Any) -> bool:
    """A value of the `crossings` table: a crossing's open hours."""
    return _decodes(CrossingState.from_json, stored)


def is_crossing_history(stored: Any) -> bool:
    """A value of the `crossing_history` table: the whole days a crossing has learned."""
    return _decodes(CrossingHistory.from_json, stored)


def is_cell_state(stored: Any) -> bool:
    """A value of the `cells` table."""
    return _decodes(CellState.from_json, stored)


def is_meeting_hold(stored: Any) -> bool:
    """A value of the `meeting_holds` table: a meetings partition's marks and held findings."""
    return _decodes(hold_from_json, stored)


def _decodes(from_json: Any, stored: Any) -> bool:
    if not isinstance(stored, dict):
        return False
    try:
        from_json(stored)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return False
    return True
