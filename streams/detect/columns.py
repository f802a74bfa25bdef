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
from typing import Any, NamedTuple

from schemas.codec import decode_obj, encode_columns
from schemas.identity import is_unidentified
from schemas.reports import VesselReport
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
    """Vessel fixes and interception sightings, column by column."""

    fixes: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in FIX_COLUMNS})
    sightings: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in SIGHTING_COLUMNS})

    def __len__(self) -> int:
        return len(self.fixes["event_id"]) + len(self.sightings["event_id"])

    @classmethod
    def decode(cls, raw: bytes) -> DetectBatch:
        """Back from the wire form (see `split_for_detection`)."""
        obj = decode_obj(raw)
        return cls(_in_memory(obj["fixes"], FIX_COLUMNS), _in_memory(obj["sightings"], SIGHTING_COLUMNS))

    def encode(self) -> bytes:
        """The wire form of a batch built in memory (NaN as null)."""
        return encode_columns({"fixes": _on_wire(self.fixes), "sightings": _on_wire(self.sightings)})


@dataclass
class _Rows:
    """Rows of one partition's messages, turned into columns when encoded."""

    fixes: list[FixRow] = field(default_factory=list)
    sightings: list[SightingRow] = field(default_factory=list)


def split_for_detection(
    events: Sequence[Enriched],
    crossing_kinds: Mapping[str, str],
    partitions: int,
    meeting_reach_m: float,
) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """One tracks message and one cells message per partition that has events.

    Tracks: fixes on the partition of their vessel, sightings on the partition of
    their crossing (reports placed in no crossing have no surge to feed).
    Cells: each fix of an identified vessel on the partition of every grid cell it
    can meet a vessel in; fast ones too, for a vessel that leaves a meeting under
    way is seen leaving (the cell detector drops those of vessels it does not know).

    Long because it is the hot path's one loop over a batch: tracks and cells are routed in a
    single pass, each vessel's partition computed once.
    """
    tracks: dict[int, _Rows] = defaultdict(_Rows)
    cells: dict[int, list[CellRow]] = defaultdict(list)
    known: dict[str, int] = {}  # keys repeat within a batch: crc32 of each once
    cell_partitions: dict[str, int] = {}  # and so do cells

    for event in events:
        report = event.report
        event_id = event.event_id
        ts = report.observed_at.timestamp()
        if isinstance(report, VesselReport):
            key = event.key
            p = known.get(key)
            if p is None:
                p = known[key] = partition_of(key, partitions)
            tracks[p].fixes.append(
                FixRow(
                    event_id=event_id, vessel=key, ts=ts, lat=report.lat, lon=report.lon, sog=report.sog,
                    crossing=event.crossing_id, route=event.route,
                    mmsi="" if report.mmsi is None else f"{report.mmsi:09d}",
                    imo="" if report.imo is None else f"{report.imo:07d}",
                    name=report.name or "", callsign=report.callsign or "",
                    vessel_type=report.vessel_type or "", received=event.received_at.timestamp(),
                )
            )  # fmt: skip
            if not is_unidentified(key):
                for n, cell in enumerate(cells_of(report.lat, report.lon, meeting_reach_m)):
                    q = cell_partitions.get(cell)
                    if q is None:
                        q = cell_partitions[cell] = partition_of(cell, partitions)
                    cells[q].append(
                        CellRow(
                            cell=cell, home=n == 0, vessel=key, ts=ts, lat=report.lat, lon=report.lon,
                            sog=report.sog, event_id=event_id, crossing=event.crossing_id, route=event.route,
                        )
                    )  # fmt: skip
        elif event.crossing_id:
            kind = crossing_kinds.get(event.crossing_id, "")
            p = known.get(event.crossing_id)
            if p is None:
                p = known[event.crossing_id] = partition_of(event.crossing_id, partitions)
            # When the centre reported it (its own reported_at, else when borderwatch received it).
            reported = (report.reported_at or event.received_at).timestamp()
            tracks[p].sightings.append(
                SightingRow(
                    event_id=event_id, crossing=event.crossing_id, crossing_kind=kind, route=event.route,
                    ts=ts, persons=report.persons, lat=report.lat, lon=report.lon, reported=reported,
                )
            )  # fmt: skip
    return (
        [
            (p, encode_columns({"fixes": _columns(FIX_COLUMNS, r.fixes),
                                "sightings": _columns(SIGHTING_COLUMNS, r.sightings)}))
            for p, r in sorted(tracks.items())
        ],
        [(p, encode_columns(_columns(CELL_COLUMNS, rows))) for p, rows in sorted(cells.items())],
    )  # fmt: skip


def decode_cells(raw: bytes) -> dict[str, list[Any]]:
    """Back from the cells message of `split_for_detection`."""
    return _in_memory(decode_obj(raw), CELL_COLUMNS)


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
