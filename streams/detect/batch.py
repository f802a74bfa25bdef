"""Detect stage: the columns detectors read, one message per ingest batch and partition.

Faust costs about 100 µs per message consumed (scripts/bench_consume.py), more
than the whole spine spends on a report, so the detectors do not read
`events.enriched` one event at a time. The ingest stage also publishes each
batch's events in columns to an internal topic, on the partition of each
event's key, so Faust tables stay co-partitioned with the stream.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.codec import decode_obj, encode_columns
from schemas.reports import InterceptionReport, VesselReport
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
)
SIGHTING_COLUMNS = ("event_id", "crossing", "crossing_kind", "route", "ts", "persons", "lat", "lon")


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

    def add_fix(self, report: VesselReport, crossing: str, route: str) -> None:
        """One vessel report."""
        self._append(
            self.fixes,
            (
                f"{report.authority}:{report.report_id}",
                report.vessel_key,
                report.observed_at.timestamp(),
                report.lat,
                report.lon,
                math.nan if report.sog is None else report.sog,
                crossing,
                route,
                "" if report.mmsi is None else f"{report.mmsi:09d}",
                "" if report.imo is None else f"{report.imo:07d}",
                report.name or "",
                report.callsign or "",
            ),
        )

    def add_sighting(self, report: InterceptionReport, crossing: str, crossing_kind: str, route: str) -> None:
        """One interception report."""
        self._append(
            self.sightings,
            (
                f"{report.authority}:{report.report_id}",
                crossing,
                crossing_kind,
                route,
                report.observed_at.timestamp(),
                report.persons,
                math.nan if report.lat is None else report.lat,
                math.nan if report.lon is None else report.lon,
            ),
        )

    def encode(self) -> bytes:
        """The wire form: a JSON object of columns (NaN as null)."""
        return encode_columns({"fixes": _nan_to_none(self.fixes), "sightings": _nan_to_none(self.sightings)})

    @classmethod
    def decode(cls, raw: bytes) -> DetectBatch:
        """Back from `encode`."""
        obj = decode_obj(raw)
        return cls(_none_to_nan(obj["fixes"]), _none_to_nan(obj["sightings"]))

    @staticmethod
    def _append(columns: dict[str, list[Any]], values: Iterable[Any]) -> None:
        for column, value in zip(columns.values(), values):
            column.append(value)


def _nan_to_none(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        k: [None if isinstance(v, float) and math.isnan(v) else v for v in vs] for k, vs in columns.items()
    }


def _none_to_nan(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {k: [math.nan if v is None else v for v in vs] for k, vs in columns.items()}


CELL_COLUMNS = ("cell", "home", "vessel", "ts", "lat", "lon", "sog", "event_id", "crossing", "route")


def split_for_detection(
    events: Sequence[Enriched], crossing_kinds: Mapping[str, str], partitions: int, reach_m: float
) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """One tracks message and one cells message per partition that has events.

    Tracks: fixes on the partition of their vessel, sightings on the partition of
    their crossing (reports placed in no crossing have no surge to feed).
    Cells: each fix on the partition of every grid cell it can meet a vessel in.
    """
    tracks: dict[int, DetectBatch] = defaultdict(DetectBatch)
    cells: dict[int, dict[str, list[Any]]] = defaultdict(lambda: {c: [] for c in CELL_COLUMNS})
    for event in events:
        report = event.report
        if isinstance(report, VesselReport):
            tracks[partition_of(report.vessel_key, partitions)].add_fix(
                report, event.crossing_id, event.route
            )
            sog = math.nan if report.sog is None else report.sog
            event_id = f"{report.authority}:{report.report_id}"
            ts = report.observed_at.timestamp()
            for n, cell in enumerate(cells_of(report.lat, report.lon, reach_m)):
                row = (cell, n == 0, report.vessel_key, ts, report.lat, report.lon,
                       sog, event_id, event.crossing_id, event.route)  # fmt: skip
                DetectBatch._append(cells[partition_of(cell, partitions)], row)
        elif event.crossing_id:
            kind = crossing_kinds.get(event.crossing_id, "")
            tracks[partition_of(event.crossing_id, partitions)].add_sighting(
                report, event.crossing_id, kind, event.route
            )
    return (
        [(p, b.encode()) for p, b in sorted(tracks.items())],
        [(p, encode_columns(_nan_to_none(c))) for p, c in sorted(cells.items())],
    )


def decode_cells(raw: bytes) -> dict[str, list[Any]]:
    """Back from the cells message of `split_for_detection`."""
    return _none_to_nan(decode_obj(raw))
