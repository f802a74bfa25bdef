"""Vessel pairs shaped like real meetings at sea, replayed through ingest, split and both detectors.

A track is a list of `Ping`s in metres from an origin; `reports` turns tracks
into AIS reports in time order (with GPS noise), and `replay` sends them the
way the worker does, in batches of a given size over a given number of partitions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from geo.catalogue import builtin_path, load_catalogue
from geo.ports import load_ports
from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from schemas.events import ReportKind
from streams.detect.columns import EMPTY_CELLS, CellsMessage, DetectBatch, decode_cells, split_for_detection
from streams.detect.meeting_news import decode_news, news_for_partitions
from streams.detect.runtime import CellDetector, MeetingGrouper, TrackDetector
from streams.detect.thresholds import Thresholds
from streams.detect.watchlist import WatchListFile
from streams.stages.enrich import RawMessage, process_batch

T = Thresholds()
CATALOGUE = load_catalogue(builtin_path())
KINDS = {c: str(p["kind"]) for c, p in zip(CATALOGUE.crossings.ids, CATALOGUE.crossings.props)}
PORTS = load_ports()
H = 3600.0
T0 = datetime(2026, 11, 22, tzinfo=UTC).timestamp()
OPEN_SEA = (35.925, -3.525)  # Alboran Sea, far from ports: the middle of cell 718:-71
CORNER = (35.95, -3.55)  # the corner of cells 718/719 by -72/-71
A, B = 224000001, 224000002


class Ping(NamedTuple):
    """One fix of a track: where, in metres north and east of the origin, and the reported speed."""

    mmsi: int
    ts: float
    north_m: float
    east_m: float
    sog: float | None  # None: the report carries no speed


def moored(
    mmsi: int,
    start: float,
    end: float,
    steps: tuple[float, ...],
    north_m: float = 0.0,
    east_m: float = 0.0,
    sog: float | None = 0.1,
    drift_kn: float = 0.0,
) -> Iterator[Ping]:
    """A vessel at anchor (or drifting east at `drift_kn`), reporting at intervals cycled from `steps`."""
    ts, n = start, 0
    while ts < end:
        yield Ping(mmsi, ts, north_m, east_m + (ts - start) * drift_kn * 1852 / 3600, sog)
        ts += steps[n % len(steps)]
        n += 1


def offset(origin: tuple[float, float], north_m: float, east_m: float) -> tuple[float, float]:
    lat, lon = origin
    d_lat = math.degrees(north_m / 6_371_008.8)
    return lat + d_lat, lon + math.degrees(east_m / 6_371_008.8) / math.cos(math.radians(lat))


def reports(
    pings: Iterable[Ping], origin: tuple[float, float] = OPEN_SEA, noise_m: float = 0.0, seed: int = 7
) -> list[dict[str, Any]]:
    """AIS reports of the pings in time order, each moved by GPS noise of up to `noise_m` (seeded).

    Pings of one vessel at one time get report ids of their own (`-1`, `-2`): a
    transponder heard twice, or two positions with one time stamp.
    """
    rng = random.Random(seed)
    out: list[tuple[float, dict[str, Any]]] = []
    seen: dict[tuple[int, float], int] = {}
    for p in sorted(pings, key=lambda p: (p.ts, p.mmsi)):
        copy = seen[(p.mmsi, p.ts)] = seen.get((p.mmsi, p.ts), 0) + 1
        north, east = (p.north_m + rng.uniform(-noise_m, noise_m), p.east_m + rng.uniform(-noise_m, noise_m))
        lat, lon = offset(origin, north, east)
        report = {
            "report_id": f"{p.mmsi}-{p.ts:.0f}-{copy}", "authority": "EMSA", "source": "ais", "mmsi": p.mmsi,
            "observed_at": datetime.fromtimestamp(p.ts, UTC).isoformat().replace("+00:00", "Z"),
            "lat": lat, "lon": lon,
        }  # fmt: skip
        if p.sog is not None:
            report["sog"] = p.sog
        out.append((p.ts, report))
    return [r for _, r in sorted(out, key=lambda row: row[0])]


class Published(NamedTuple):
    """An alert state, with the newest event time of the batch that raised it."""

    newest_ts: float
    alert: Alert


@dataclass
class Detectors:
    """The worker's vessel detectors (tracks, cells, and the cells' findings grouped by pair) and their
    tables, on `partitions` partitions. Each cells message's news reaches the meetings partitions at
    once, before the next partition's cells run (the order that most needs the hold).
    """

    partitions: int = 1
    last_first: bool = False  # run the partitions' agents from the last to the first (any order is possible)
    tracks: TrackDetector = field(init=False)
    cells: CellDetector = field(init=False)
    meetings: MeetingGrouper = field(init=False)
    track_tables: list[dict[str, Any]] = field(default_factory=lambda: [{} for _ in range(5)])
    cell_tables: list[dict[str, Any]] = field(default_factory=lambda: [{} for _ in range(3)])
    meeting_tables: list[dict[str, Any]] = field(default_factory=lambda: [{} for _ in range(2)])
    cells_offsets: dict[int, int] = field(default_factory=dict)  # each cells partition's next offset
    wall: float = -math.inf  # the wall-clock time of the last batch or tick

    def __post_init__(self) -> None:
        self.tracks = TrackDetector(T, CATALOGUE, PORTS, WatchListFile(None), partitions=self.partitions)
        self.cells = CellDetector(T, PORTS, self.partitions)
        self.meetings = MeetingGrouper(T, self.partitions)

    def batch(
        self, chunk: list[dict[str, Any]], late_s: float = 0.0, resent_s: dict[int, float] | None = None
    ) -> list[Published]:
        """A batch read live, seconds after its newest fix (or `late_s` later), split per partition as
        the worker does. `resent_s`: cells partitions whose message of the batch was sent that much
        later (a sink that crashed while it published the batch, and published it again)."""
        newest = max(datetime.fromisoformat(r["observed_at"]).timestamp() for r in chunk)
        self.wall = max(self.wall, newest + 5 + late_s)
        messages = [RawMessage("v", 0, n, orjson.dumps(r), ReportKind.VESSEL) for n, r in enumerate(chunk)]
        events = process_batch(messages, CATALOGUE, datetime.fromtimestamp(self.wall, UTC)).events
        to_tracks, to_cells = split_for_detection(events, KINDS, self.partitions, T.encounter_distance_m)
        if self.last_first:
            to_tracks, to_cells = to_tracks[::-1], to_cells[::-1]
        found = [a for p, raw in to_tracks for a in self._tracks(p, DetectBatch.decode(raw))]
        sent, resent_s = self.wall, resent_s or {}
        for p, raw in to_cells:
            self.wall = sent + resent_s.get(p, 0.0)
            found += self._cells(p, decode_cells(raw))
        self.wall = sent + max(resent_s.values(), default=0.0)
        return [Published(newest, a) for a in found]

    def tick_until(self, wall_end: float, every_s: float = 60.0) -> list[Published]:
        """The worker's ticks while no report comes: an empty batch per partition every `every_s`."""
        found = []
        while self.wall + every_s <= wall_end:
            self.wall += every_s
            for p in range(self.partitions):
                alerts = self._tracks(p, DetectBatch()) + self._cells(p, decode_cells(EMPTY_CELLS))
                found += [Published(self.wall, a) for a in alerts]
        return found

    def _tracks(self, partition: int, batch: DetectBatch) -> list[Alert]:
        return self.tracks.on_batch(partition, batch, self.wall, *self.track_tables).alerts

    def _cells(self, partition: int, message: CellsMessage) -> list[Alert]:
        result = self.cells.on_batch(partition, message, self.wall, *self.cell_tables)
        offset = self.cells_offsets[partition] = self.cells_offsets.get(partition, -1) + 1
        n, wall = self.partitions, self.wall
        news = news_for_partitions(partition, offset, wall, result.mark_ts, result.found, n, result.adopted)
        return [
            alert
            for p, raw in news
            for alert in self.meetings.on_news(p, decode_news(raw, self.partitions), *self.meeting_tables)
        ]

    def read(self, feed: list[dict[str, Any]], batch_size: int, late_s: float = 0.0) -> list[Published]:
        """Every alert state published when `feed` is read live in batches of `batch_size`."""
        chunks = (feed[start : start + batch_size] for start in range(0, len(feed), batch_size))
        return [published for chunk in chunks for published in self.batch(chunk, late_s)]


def replay(
    feed: list[dict[str, Any]], batch_size: int, partitions: int = 1, last_first: bool = False
) -> list[Published]:
    """Every alert state published when `feed` is read live in batches of `batch_size`."""
    return Detectors(partitions, last_first).read(feed, batch_size)


class Story(NamedTuple):
    """What the encounter alerts of a replay say, in a form to compare across batchings."""

    ids: int  # how many alert ids
    start_ts: float  # the first state's window: when the pair was first seen together (inf: none)
    raised_ts: float  # and the event time of the finding that raised it
    impacts: tuple[Impact, ...]  # the impact of each state that notifies, in order
    final: AlertStatus | None


def encounter_story(published: list[Published]) -> Story:
    """The encounter alerts of a replay, summed up."""
    states = [p for p in published if p.alert.kind is AlertKind.ENCOUNTER]
    if not states:
        return Story(0, math.inf, math.inf, (), None)
    first = states[0].alert
    return Story(
        len({p.alert.id for p in states}),
        first.window_start.timestamp(),
        first.window_end.timestamp(),
        tuple(p.alert.impact for p in states if p.alert.notify),
        states[-1].alert.status,
    )
