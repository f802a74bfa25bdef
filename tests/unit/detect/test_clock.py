"""The event clock: data time for replays, wall time between messages for live feeds."""

from __future__ import annotations

import math
from typing import Any

from geo.catalogue import builtin_path, load_catalogue
from geo.ports import load_ports
from schemas.alerts import AlertKind, AlertStatus
from streams.detect.clock import EventClock, clocks_from_json, clocks_to_json, sent_wall_time
from streams.detect.columns import FIX_COLUMNS, DetectBatch
from streams.detect.runtime import TRACK_CLOCKS, TrackDetector, is_cell_clocks, is_track_clocks
from streams.detect.thresholds import Thresholds
from streams.detect.watchlist import WatchListFile

T = Thresholds()
WALL = 1_790_000_000.0


def test_a_live_partition_runs_on_wall_time_and_a_replay_on_data_time() -> None:
    live, replay = EventClock(), EventClock()
    live.observe(WALL - 60, wall_now=WALL)  # a report one minute old on arrival
    replay.observe(WALL - 30 * 86400, wall_now=WALL)  # a report from last month
    assert live.now(WALL + 3600, T.live_within_s) == WALL - 60 + 3600
    assert replay.now(WALL + 3600, T.live_within_s) == WALL - 30 * 86400
    assert live.watermark(WALL, T.live_within_s, T.allowed_lateness_s) == WALL - 60 - T.allowed_lateness_s
    live.observe(WALL - 7200, wall_now=WALL + 10)  # an older report never moves the clock back
    assert live.newest_ts == WALL - 60


def test_a_live_vessel_that_falls_silent_is_found_by_ticks_alone() -> None:
    detector = TrackDetector(
        T, load_catalogue(builtin_path()), load_ports(), WatchListFile(None), partitions=1
    )
    tables: list[dict[str, Any]] = [{}, {}, {}, {}, {}]
    fix = dict(zip(FIX_COLUMNS, ([v] for v in (
        "EMSA:1", "mmsi:224000103", WALL, 35.99, -5.45, 5.0, "ES-GIB-STRAIT-N", "Western Mediterranean",
        "224000103", "", "", "", "", WALL,
    ))))  # fmt: skip
    assert detector.on_batch(0, DetectBatch(fixes=fix), WALL, *tables).alerts == []
    quiet = detector.on_batch(0, DetectBatch(), WALL + T.gap_s - 60, *tables)  # an empty tick
    assert quiet.alerts == [] and quiet.transitions == []
    # Silent vessels are looked for every gap_check_s of clock time: the next look finds it.
    assert detector.on_batch(0, DetectBatch(), WALL + T.gap_s - 60 + T.gap_check_s - 1, *tables).alerts == []
    (alert,) = detector.on_batch(0, DetectBatch(), WALL + T.gap_s - 60 + T.gap_check_s, *tables).alerts
    assert (alert.kind, alert.status, alert.vessel_ids) == (
        AlertKind.AIS_GAP,
        AlertStatus.NEW,
        ["mmsi:224000103"],
    )


def detector() -> TrackDetector:
    return TrackDetector(T, load_catalogue(builtin_path()), load_ports(), WatchListFile(None), partitions=1)


def test_the_clock_follows_its_partition_to_the_worker_that_takes_it_over() -> None:
    tables: list[dict[str, Any]] = [{}, {}, {}, {}, {}]
    fix = dict(zip(FIX_COLUMNS, ([v] for v in (
        "EMSA:1", "mmsi:224000103", WALL, 35.99, -5.45, 5.0, "ES-GIB-STRAIT-N", "Western Mediterranean",
        "224000103", "", "", "", "", WALL,
    ))))  # fmt: skip
    assert detector().on_batch(0, DetectBatch(fixes=fix), WALL, *tables).alerts == []
    # Another worker (a new detector, no memory) gets the partition's tables and only ticks.
    successor = detector()
    assert successor.on_batch(0, DetectBatch(), WALL + T.gap_s - 60, *tables).alerts == []
    (alert,) = successor.on_batch(0, DetectBatch(), WALL + T.gap_s - 60 + T.gap_check_s, *tables).alerts
    assert alert.kind is AlertKind.AIS_GAP
    # Without the clock value it would have no time at all, and find nothing.
    tables[4].clear()
    assert detector().on_batch(0, DetectBatch(), WALL + T.gap_s + 2 * T.gap_check_s, *tables).alerts == []


def test_clocks_round_trip_and_hostile_values_are_refused() -> None:
    live = EventClock()
    live.observe(WALL - 60, WALL)
    value = clocks_to_json({"fixes": live, "reports": EventClock()})
    assert value == {"fixes": [WALL - 60, WALL], "reports": None}
    restored = clocks_from_json(value, TRACK_CLOCKS)
    assert restored["fixes"] == live and restored["reports"].newest_ts == EventClock().newest_ts
    assert is_track_clocks(value) and not is_cell_clocks(value)
    for bad in (None, [], "x", {"fixes": None}, {"fixes": [1, 2], "reports": ["a", 1]},
                {"fixes": [1, True], "reports": None}, {"fixes": [1, float("inf")], "reports": None},
                {"fixes": [1, 2, 3], "reports": None}):  # fmt: skip
        assert not is_track_clocks(bad), bad


def test_a_detect_message_is_judged_at_the_time_it_was_sent_so_a_replay_is_judged_alike() -> None:
    sent = 1_800_000_000.0
    assert sent_wall_time(sent, sent + 0.2) == sent_wall_time(sent, sent + 3600) == sent
    assert sent_wall_time(None, sent) == sent  # no timestamp: now
    assert sent_wall_time(-1.0, sent) == sent_wall_time(math.nan, sent) == sent
    assert sent_wall_time(sent + 86400, sent) == sent  # never ahead of this process's clock
