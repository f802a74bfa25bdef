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
from typing import Any

from schemas.codec import decode_obj, encode_columns
from schemas.identity import is_unidentified
from schemas.reports import VesselReport
from streams.detect.encounters import cells_of
from streams.pipeline import Enriched

FIX_COLUMNS = (
    "event_id",
    "vessel",
    "ts",
    "lat",
    "lon",
    "sog",
    "crossing",
    "route",
    "mmsi",
    "imo",
    "name",
    "callsign",
    "vessel_type",
    "received",
)
SIGHTING_COLUMNS = (
    "event_id", "crossing", "crossing_kind", "route", "ts", "persons", "lat", "lon", "reported",
)  # fmt: skip
CELL_COLUMNS = ("cell", "home", "vessel", "ts", "lat", "lon", "sog", "event_id", "crossing", "route")
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

    fixes: list[tuple[Any, ...]] = field(default_factory=list)
    sightings: list[tuple[Any, ...]] = field(default_factory=list)


def split_for_detection(
    events: Sequence[Enriched],
    crossing_kinds: Mapping[str, str],
    partitions: int,
    meeting_reach_m: float,
    meeting_max_kn: float,
) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """One tracks message and one cells message per partition that has events.

    Tracks: fixes on the partition of their vessel, sightings on the partition of
    their crossing (reports placed in no crossing have no surge to feed).
    Cells: each fix slow enough to be part of a meeting (or of unknown speed) on
    the partition of every grid cell it can meet a vessel in.
    """
    tracks: dict[int, _Rows] = defaultdict(_Rows)
    cells: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    known: dict[str, int] = {}  # keys repeat within a batch: crc32 of each once

    for event in events:
        report = event.report
        event_id = f"{report.authority}:{report.report_id}"
        ts = report.observed_at.timestamp()
        if isinstance(report, VesselReport):
            key = report.vessel_key
            p = known.get(key)
            if p is None:
                p = known[key] = partition_of(key, partitions)
            tracks[p].fixes.append(
                (event_id, key, ts, report.lat, report.lon, report.sog, event.crossing_id, event.route,
                 "" if report.mmsi is None else f"{report.mmsi:09d}",
                 "" if report.imo is None else f"{report.imo:07d}",
                 report.name or "", report.callsign or "", report.vessel_type or "",
                 event.received_at.timestamp())
            )  # fmt: skip
            if (report.sog is None or report.sog < meeting_max_kn) and not is_unidentified(key):
                for n, cell in enumerate(cells_of(report.lat, report.lon, meeting_reach_m)):
                    cells[partition_of(cell, partitions)].append(
                        (cell, n == 0, key, ts, report.lat, report.lon, report.sog, event_id,
                         event.crossing_id, event.route)
                    )  # fmt: skip
        elif event.crossing_id:
            kind = crossing_kinds.get(event.crossing_id, "")
            p = known.get(event.crossing_id)
            if p is None:
                p = known[event.crossing_id] = partition_of(event.crossing_id, partitions)
            # When the centre reported it (its own reported_at, else when borderwatch received it).
            reported = (report.reported_at or event.received_at).timestamp()
            tracks[p].sightings.append(
                (event_id, event.crossing_id, kind, event.route, ts, report.persons, report.lat, report.lon,
                 reported)
            )
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


def _columns(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
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
