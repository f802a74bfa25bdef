"""Event time, not arrival: one feed sent one by one, in batches of 2,000, or as a whole backfill, on
1 or 4 partitions, gives the same alerts (ids, impacts and the final state of each)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest

from geo.catalogue import builtin_path, load_catalogue
from geo.ports import load_ports
from schemas.alerts import Alert, AlertKind
from scripts.evaluate_alerts import build_feed
from streams.detect.columns import SIGHTING_COLUMNS, DetectBatch, SightingRow, partition_of
from streams.detect.runtime import TrackDetector
from streams.detect.thresholds import Thresholds
from streams.detect.watchlist import WatchListFile

T = Thresholds()
CATALOGUE = load_catalogue(builtin_path())
WALL = 1_790_000_000.0  # wall time of the run: the feed is 2023, so a replay, never live
# The evaluation's 2023 feed: a year of background at nine crossings and seven real episodes.
FROM, UNTIL = "2023-01-01", "2024-01-01"


def _sightings() -> list[SightingRow]:
    zones = CATALOGUE.crossings
    rows = []
    for r in build_feed(2023, 2023).reports:
        if not FROM <= r["observed_at"][:10] < UNTIL:
            continue
        props = zones.props[zones.position[r["crossing_id"]]]
        rows.append(
            SightingRow(
                event_id=f"{r['authority']}:{r['report_id']}", crossing=r["crossing_id"],
                crossing_kind=str(props["kind"]), route=str(props["route"]),
                ts=datetime.fromisoformat(r["observed_at"]).timestamp(), persons=r["persons"],
                lat=None, lon=None, reported=datetime.fromisoformat(r["reported_at"]).timestamp(),
            )
        )  # fmt: skip
    return rows


FEED = _sightings()


def _batch(rows: Sequence[SightingRow]) -> DetectBatch:
    batch = DetectBatch()
    for name, values in zip(SIGHTING_COLUMNS, zip(*rows)):
        batch.sightings[name] = list(values)
    return batch


def _chunks(rows: Sequence[SightingRow], size: int) -> Iterator[Sequence[SightingRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def replay(batch_size: int, partitions: int) -> dict[str, Alert]:
    """The latest state of each alert id, the feed sent in arrival order in batches of `batch_size`;
    every state published is kept in `STATES[(batch_size, partitions)]`."""
    detector = TrackDetector(T, CATALOGUE, load_ports(), WatchListFile(None), partitions=partitions)
    tables: list[dict[str, Any]] = [{}, {}, {}, {}, {}]
    latest: dict[str, Alert] = {}
    wall = WALL
    for chunk in _chunks(FEED, batch_size):
        # Each partition's share of the chunk, as the ingest stage publishes it (split_for_detection).
        by_partition: dict[int, list[SightingRow]] = {}
        for row in chunk:
            by_partition.setdefault(partition_of(row.crossing, partitions), []).append(row)
        for partition, rows in sorted(by_partition.items()):
            wall += 0.05  # a live worker's wall clock moves between batches
            for alert in detector.on_batch(partition, _batch(rows), wall, *tables).alerts:
                latest[alert.id] = alert
                STATES.setdefault((batch_size, partitions), []).append(alert)
    return latest


STATES: dict[tuple[int, int], list[Alert]] = {}


def states_of(alerts: list[Alert]) -> set[tuple[object, ...]]:
    """Every state published: which alert, which version, its status and impact."""
    return {(a.id, a.version, a.status, a.impact, a.window_end) for a in alerts}


def outcome(alerts: dict[str, Alert]) -> dict[str, tuple[object, ...]]:
    """What must not depend on batching: each alert's kind, impact, status, window and evidence."""
    return {
        i: (a.kind, a.impact, a.status, a.window_start, a.window_end, tuple(a.event_ids), a.zone_id)
        for i, a in alerts.items()
    }


@pytest.fixture(scope="module")
def one_by_one() -> dict[str, Alert]:
    return replay(1, 1)


def test_the_feed_raises_alerts_to_compare(one_by_one: dict[str, Alert]) -> None:
    lampedusa = [a for a in one_by_one.values() if a.zone_id == "IT-LAMPEDUSA" and a.kind is AlertKind.SURGE]
    assert lampedusa, sorted(one_by_one)
    assert len(FEED) > 2_000 * 3  # several batches of 2,000


@pytest.mark.parametrize(
    ("batch_size", "partitions"),
    [(1, 4), (2_000, 1), (2_000, 4), (len(FEED), 1), (len(FEED), 4)],
    ids=["one-by-one-4p", "2000-1p", "2000-4p", "backfill-1p", "backfill-4p"],
)
def test_batching_and_partitions_change_no_alert(
    one_by_one: dict[str, Alert], batch_size: int, partitions: int
) -> None:
    assert outcome(replay(batch_size, partitions)) == outcome(one_by_one)
    # Not only the end: every state a live worker published, with the same versions.
    assert states_of(STATES[(batch_size, partitions)]) == states_of(STATES[(1, 1)])


def test_an_alert_raised_from_a_backfill_says_it_was_found_late(one_by_one: dict[str, Alert]) -> None:
    surge = next(a for a in one_by_one.values() if a.kind is AlertKind.SURGE)
    assert "found late: raised" in surge.description
    assert "days after its evidence arrived (catch-up or backfill)" in surge.description
