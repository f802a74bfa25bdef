"""Detect stage: the columns detectors read, one message per ingest batch and partition.

Faust costs about 100 µs per message consumed (scripts/bench_consume.py), more
than the whole spine spends on a report, so the detectors do not read
`events.enriched` one event at a time. The ingest stage also publishes each
batch's events in columns to internal topics, on the partition of each event's
key, so Faust tables stay co-partitioned with the stream.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from schemas.codec import decode_obj, encode_columns
from schemas.identity import is_unidentified
from schemas.reports import InterceptionReport, VesselReport
from streams.detect.encounters import cells_of
from streams.stages.enrich import Enriched


class FixRow(NamedTuple):
    """One vessel fix of a tracks message; its fields are the message's columns, in order."""

    event_id: str
    vessel: str  # the vessel key
    ts: float  # observed_at
    lat: float
    lon: float
    sog: float | None  # None (null) when not reported; NaN once decoded
    crossing: str
    route: str
    mmsi: str  # nine digits, or ""
    imo: str  # seven digits, or ""
    name: str
    callsign: str
    vessel_type: str
    received: float  # when borderwatch received it


class SightingRow(NamedTuple):
    """One interception report of a tracks message, on its crossing's partition."""

    event_id: str
    crossing: str
    crossing_kind: str
    route: str
    ts: float
    persons: int
    lat: float | None
    lon: float | None
    reported: float  # the centre's reported_at, else when borderwatch received it


class CellRow(NamedTuple):
    """One fix of a cells message, sent to each cell it can meet a vessel in."""

    cell: str
    home: bool  # the fix's own cell (the others are neighbours within meeting distance)
    vessel: str
    ts: float
    lat: float
    lon: float
    sog: float | None
    event_id: str
    crossing: str
    route: str


FIX_COLUMNS = FixRow._fields
SIGHTING_COLUMNS = SightingRow._fields
CELL_COLUMNS = CellRow._fields
# Columns that may be unknown: null on the wire, NaN in memory.
OPTIONAL_NUMBERS = frozenset({"sog", "lat", "lon"})


def partition_of(key: str, partitions: int) -> int:
    """The partition of a key: the same for every copy, every topic and every worker."""
    return zlib.crc32(key.encode()) % partitions


@dataclass
class DetectBatch:
    """Vessel fixes and interception sightings, column by column, and the newest fix of the whole
    ingest batch (every partition's), which moves every partition's clock as one partition's moves."""

    fixes: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in FIX_COLUMNS})
    sightings: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in SIGHTING_COLUMNS})
    newest_fix_ts: float | None = None

    def __len__(self) -> int:
        return len(self.fixes["event_id"]) + len(self.sightings["event_id"])

    @classmethod
    def decode(cls, raw: bytes) -> DetectBatch:
        """Back from the wire form (see `split_for_detection`)."""
        obj = decode_obj(raw)
        fixes = _in_memory(obj["fixes"], FIX_COLUMNS)
        return cls(fixes, _in_memory(obj["sightings"], SIGHTING_COLUMNS), _newest(obj))

    def encode(self) -> bytes:
        """The wire form of a batch built in memory (NaN as null)."""
        wire = {"fixes": _on_wire(self.fixes), "sightings": _on_wire(self.sightings)}
        return encode_columns(wire if self.newest_fix_ts is None else {**wire, NEWEST: self.newest_fix_ts})


class CellsMessage(NamedTuple):
    """A cells message: its rows by column, and the newest fix of the whole ingest batch."""

    rows: dict[str, list[Any]]
    newest_fix_ts: float | None


NEWEST = "newest_fix_ts"  # on the wire; absent from the messages of releases before it


def _newest(obj: Mapping[str, Any]) -> float | None:
    value = obj.get(NEWEST)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{NEWEST} is not a time: {value!r:.40}")
    return float(value)


def split_for_detection(
    events: Sequence[Enriched],
    crossing_kinds: Mapping[str, str],
    partitions: int,
    meeting_reach_m: float,
) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """A tracks message and a cells message for every partition, once the batch has vessel fixes
    (interception reports alone: a tracks message for each of their crossings' partitions).

    Each carries the newest fix of the whole batch: a partition whose vessels
    stopped earlier in the batch runs its clock on the batch's time, as it
    would on one partition (a catch-up batch would otherwise leave it reading
    replayed data, and its silent vessels unfound). A partition with no rows of
    its own gets its empty columns and that time.

    Tracks: fixes on the partition of their vessel, sightings on the partition of
    their crossing (reports placed in no crossing have no surge to feed).
    Cells: each fix of an identified vessel on the partition of every grid cell it
    can meet a vessel in; fast ones too, for a vessel that leaves a meeting under
    way is seen leaving (the cell detector drops those of vessels it does not know).

    The batch's columns are built once, column by column, then each partition's
    rows gathered from them in batch order (a row tuple per fix, transposed per
    partition, cost twice as much).
    """
    partition = _Partitioner(partitions)
    fixes = _fix_columns([e for e in events if isinstance(e.report, VesselReport)])
    sightings = _sighting_columns(
        [e for e in events if not isinstance(e.report, VesselReport) and e.crossing_id], crossing_kinds
    )
    cells = _cell_columns(fixes, meeting_reach_m)
    fix_rows = _rows_by_partition([partition(key) for key in fixes["vessel"]])
    sighting_rows = _rows_by_partition([partition(crossing) for crossing in sightings["crossing"]])
    cell_rows = _rows_by_partition([partition(cell) for cell in cells["cell"]])
    newest_fix = max(fixes["ts"], default=None)
    # Interception reports alone move no vessel clock: they go to their crossings' partitions only.
    to = range(partitions) if fix_rows else sorted(sighting_rows)
    tracks = [
        (p, encode_columns({"fixes": _gather(fixes, fix_rows.get(p, [])),
                            "sightings": _gather(sightings, sighting_rows.get(p, [])), NEWEST: newest_fix}))
        for p in to
    ]  # fmt: skip
    newest_cell = max(cells["ts"], default=None)
    to_cells = [
        (p, encode_columns({**_gather(cells, cell_rows.get(p, [])), NEWEST: newest_cell}))
        for p in range(partitions)
    ]
    return tracks, to_cells if cell_rows else []


class _Partitioner:
    """`partition_of` for one batch, each key's crc32 worked out once (keys and cells repeat)."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.known: dict[str, int] = {}

    def __call__(self, key: str) -> int:
        p = self.known.get(key)
        if p is None:
            p = self.known[key] = partition_of(key, self.partitions)
        return p


def _fix_columns(fixes: Sequence[Enriched]) -> dict[str, list[Any]]:
    """The FIX_COLUMNS of the vessel events, in batch order."""
    reports = [cast(VesselReport, e.report) for e in fixes]
    return {
        "event_id": [e.event_id for e in fixes],
        "vessel": [e.key for e in fixes],
        "ts": [r.observed_at.timestamp() for r in reports],
        "lat": [r.lat for r in reports],
        "lon": [r.lon for r in reports],
        "sog": [r.sog for r in reports],
        "crossing": [e.crossing_id for e in fixes],
        "route": [e.route for e in fixes],
        "mmsi": ["" if r.mmsi is None else f"{r.mmsi:09d}" for r in reports],
        "imo": ["" if r.imo is None else f"{r.imo:07d}" for r in reports],
        "name": [r.name or "" for r in reports],
        "callsign": [r.callsign or "" for r in reports],
        "vessel_type": [r.vessel_type or "" for r in reports],
        "received": [e.received_at.timestamp() for e in fixes],
    }


def _sighting_columns(sighted: Sequence[Enriched], crossing_kinds: Mapping[str, str]) -> dict[str, list[Any]]:
    """The SIGHTING_COLUMNS of the interception events placed in a crossing, in batch order."""
    reports = [cast(InterceptionReport, e.report) for e in sighted]
    return {
        "event_id": [e.event_id for e in sighted],
        "crossing": [e.crossing_id for e in sighted],
        "crossing_kind": [crossing_kinds.get(e.crossing_id, "") for e in sighted],
        "route": [e.route for e in sighted],
        "ts": [r.observed_at.timestamp() for r in reports],
        "persons": [r.persons for r in reports],
        "lat": [r.lat for r in reports],
        "lon": [r.lon for r in reports],
        # When the centre reported it (its own reported_at, else when borderwatch received it).
        "reported": [(r.reported_at or e.received_at).timestamp() for r, e in zip(reports, sighted)],
    }


def _cell_columns(fixes: Mapping[str, list[Any]], meeting_reach_m: float) -> dict[str, list[Any]]:
    """The CELL_COLUMNS: each fix of an identified vessel once per cell it can meet a vessel in."""
    of_fix: list[int] = []  # the fix each cell row comes from
    cell: list[str] = []
    home: list[bool] = []
    for i, (vessel, lat, lon) in enumerate(zip(fixes["vessel"], fixes["lat"], fixes["lon"])):
        if not is_unidentified(vessel):
            for n, name in enumerate(cells_of(lat, lon, meeting_reach_m)):
                of_fix.append(i)
                cell.append(name)
                home.append(n == 0)
    from_fixes = _gather(fixes, of_fix)
    return {"cell": cell, "home": home, **{name: from_fixes[name] for name in CELL_COLUMNS[2:]}}


def _rows_by_partition(row_partitions: Sequence[int]) -> dict[int, list[int]]:
    """Each partition's row numbers, in row order."""
    rows: dict[int, list[int]] = defaultdict(list)
    for row, p in enumerate(row_partitions):
        rows[p].append(row)
    return rows


def _gather(columns: Mapping[str, list[Any]], rows: Sequence[int]) -> dict[str, list[Any]]:
    """The given rows of every column, in the columns' order."""
    return {name: [values[row] for row in rows] for name, values in columns.items()}


EMPTY_CELLS = encode_columns({name: [] for name in CELL_COLUMNS})
"""A cells message with no fix: the tick that moves a partition's clock and sweeps its cells."""


def decode_cells(raw: bytes) -> CellsMessage:
    """Back from the cells message of `split_for_detection`."""
    obj = decode_obj(raw)
    newest = _newest(obj)
    return CellsMessage(_in_memory({name: obj[name] for name in CELL_COLUMNS}, CELL_COLUMNS), newest)


def _columns(names: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> dict[str, list[Any]]:
    if not rows:
        return {name: [] for name in names}
    return dict(zip(names, map(list, zip(*rows))))


def _in_memory(columns: dict[str, list[Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    for name in OPTIONAL_NUMBERS.intersection(names):
        columns[name] = [math.nan if v is None else v for v in columns[name]]
    return columns


def _on_wire(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        k: [None if isinstance(v, float) and math.isnan(v) else v for v in vs]
        if k in OPTIONAL_NUMBERS
        else vs
        for k, vs in columns.items()
    }
