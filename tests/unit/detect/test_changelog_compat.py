"""Changelog records and detect-topic messages of an earlier release decode and re-encode byte for byte.

The fixtures under tests/data/changelog were written by the code of the commit
named in their PROVENANCE.md (scripts/make_changelog_fixtures.py): a worker
upgraded over such changelogs recovers the same state, and writes what the old
one wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from geo.catalogue import builtin_path, load_catalogue
from schemas.codec import encode_obj
from schemas.events import ReportKind
from streams.detect.clock import clocks_from_json, clocks_to_json
from streams.detect.columns import (
    CELL_COLUMNS,
    FIX_COLUMNS,
    NEWEST,
    SIGHTING_COLUMNS,
    CellRow,
    DetectBatch,
    FixRow,
    SightingRow,
    _columns,
    decode_cells,
    split_for_detection,
)
from streams.detect.crossings import CrossingHistory, CrossingState, DayCount, HourCount
from streams.detect.encounters import CellState, CellVessel, ClosePair, DarkPair, LastFix
from streams.detect.grouping import Group, is_group
from streams.detect.runtime import CELL_CLOCKS, TRACK_CLOCKS
from streams.detect.thresholds import Thresholds
from streams.detect.vessels import VesselState
from streams.stages.enrich import RawMessage, process_batch

DATA = Path(__file__).resolve().parents[2] / "data" / "changelog"
PARTITIONS = 2  # as the fixtures were made


def records(table: str) -> list[tuple[bytes, bytes, bytes]]:
    """(key, value, value read back and written again by that release) of each record of a table."""
    lines = (DATA / f"{table}.tsv").read_bytes().splitlines()
    assert lines, table
    return [(key, value, again) for key, value, again in (line.split(b"\t") for line in lines)]


def _vessel(value: Any) -> bytes:
    state = VesselState.unpack(value.encode("latin-1"))
    assert isinstance(state, VesselState)
    return encode_obj(state.pack().decode("latin-1"))


def _cell(value: Any) -> bytes:
    state = CellState.from_json(value)
    assert all(type(v) is CellVessel for v in state.vessels.values())
    for pair in state.pairs.values():
        assert type(pair) is ClosePair or (type(pair.last_a) is type(pair.last_b) is LastFix)
    return encode_obj(state.to_json())


def _crossing(value: Any) -> bytes:
    state = CrossingState.from_json(value)
    assert all(type(c) is HourCount for c in state.hours.values())
    return encode_obj(state.to_json())


def _history(value: Any) -> bytes:
    history = CrossingHistory.from_json(value)
    assert all(type(c) is DayCount for c in history.days.values())
    return encode_obj(history.to_json())


def _group(value: Any) -> bytes:
    assert is_group(value)
    # Group's keys; its NotRequired ones by name (under `from __future__ import annotations`
    # TypedDict cannot tell them at run time).
    optional = {"resolved", "partition", "news_ts", "closed", "first_start_ts"}
    assert set(Group.__annotations__) - optional <= set(value) <= set(Group.__annotations__)
    return encode_obj(value)


def _clocks(names: tuple[str, ...]) -> Callable[[Any], bytes]:
    return lambda value: encode_obj(clocks_to_json(clocks_from_json(value, names)))


ROUND_TRIPS: dict[str, Callable[[Any], bytes]] = {
    "vessels": _vessel,
    "cells": _cell,
    "crossings": _crossing,
    "crossing_history": _history,
    "track_groups": _group,
    "cell_groups": _group,
    "track_clocks": _clocks(TRACK_CLOCKS),
    "cell_clocks": _clocks(CELL_CLOCKS),
}


@pytest.mark.parametrize("table", sorted(ROUND_TRIPS))
def test_table_values_decode_and_encode_to_the_same_bytes(table: str) -> None:
    for key, raw, again in records(table):
        assert isinstance(orjson.loads(key), str)
        assert ROUND_TRIPS[table](orjson.loads(raw)) == again, (table, key)
        # Read back, a crossing's closed_until is a float: "1795327200.0" where the first write had
        # "1795327200". Every other value comes back exactly as it was written.
        if table == "crossings":
            assert orjson.loads(again) == orjson.loads(raw)
        else:
            assert again == raw, (table, key)


def test_the_fixtures_hold_every_kind_of_pair_record() -> None:
    kinds = set()
    for _, raw, _ in records("cells"):
        for pair in CellState.from_json(orjson.loads(raw)).pairs.values():
            kinds.add((type(pair).__name__, pair.flag, isinstance(pair, DarkPair) and pair.back_ts is None))
    assert kinds == {
        ("ClosePair", 0, False),  # watching
        ("ClosePair", 1, False),  # alerted
        ("ClosePair", 2, False),  # adopted
        ("DarkPair", 3, True),
        ("DarkPair", 3, False),  # one of them back
    }


def messages() -> list[tuple[str, int, bytes]]:
    out = []
    for line in (DATA / "detect_messages.tsv").read_bytes().splitlines():
        topic, batch, raw = line.split(b"\t", 2)
        out.append((topic.decode(), int(batch), raw))
    return out


def test_detect_messages_decode_and_encode_to_the_same_bytes() -> None:
    found = {"tracks": 0, "cells": 0}
    for topic, _, raw in messages():
        found[topic] += 1
        if topic == "tracks":
            batch = DetectBatch.decode(raw)
            assert batch.encode() == raw
            # The rows, named, make the same columns again.
            fixes = [FixRow._make(row) for row in zip(*(batch.fixes[c] for c in FIX_COLUMNS))]
            sightings = [
                SightingRow._make(row) for row in zip(*(batch.sightings[c] for c in SIGHTING_COLUMNS))
            ]
            again = DetectBatch(_columns(FIX_COLUMNS, fixes), _columns(SIGHTING_COLUMNS, sightings))
            assert again.encode() == raw
        else:
            cells = decode_cells(raw).rows
            rows = [CellRow._make(row) for row in zip(*(cells[c] for c in CELL_COLUMNS))]
            columns = _columns(
                CELL_COLUMNS, [row._replace(sog=None if row.sog != row.sog else row.sog) for row in rows]
            )
            assert orjson.dumps(columns) == raw
    assert found["tracks"] > 10 and found["cells"] > 3


def test_the_same_reports_make_the_same_detect_messages() -> None:
    catalogue = load_catalogue(builtin_path())
    kinds = {c: str(p["kind"]) for c, p in zip(catalogue.crossings.ids, catalogue.crossings.props)}
    t = Thresholds()
    batches: dict[int, tuple[float, list[RawMessage]]] = {}
    for line in (DATA / "ingest_batches.tsv").read_bytes().splitlines():
        batch, wall_now, kind, raw = line.split(b"\t", 3)
        _, batch_messages = batches.setdefault(int(batch), (float(wall_now), []))
        batch_messages.append(
            RawMessage("events.raw", 0, len(batch_messages), raw, ReportKind(kind.decode()))
        )
    expected: dict[tuple[str, int], list[bytes]] = {}
    for topic, batch, raw in messages():
        expected.setdefault((topic, batch), []).append(raw)
    made: dict[tuple[str, int], list[bytes]] = {}
    for batch, (wall_now, batch_messages) in batches.items():
        events = process_batch(batch_messages, catalogue, datetime.fromtimestamp(wall_now, UTC)).events
        tracks, cells = split_for_detection(events, kinds, PARTITIONS, t.encounter_distance_m)
        for topic, out in (("tracks", tracks), ("cells", cells)):
            if (topic, batch) in expected:
                made[(topic, batch)] = [old for _, raw in out if (old := as_before(raw))]
    assert made == expected


def as_before(raw: bytes) -> bytes:
    """A detect message as the releases before wrote it: without the batch's newest fix, and none
    for a partition without rows (a release that reads them ignores the one, skips nothing else)."""
    obj = orjson.loads(raw)
    obj.pop(NEWEST)
    columns = [obj["fixes"], obj["sightings"]] if "fixes" in obj else [obj]
    return orjson.dumps(obj) if any(v for c in columns for v in c.values()) else b""
