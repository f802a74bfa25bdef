"""The sample feed: deterministic, bundled as generated, true to Frontex's monthly totals."""

from __future__ import annotations

import gzip
import itertools

import orjson

from geo.ports import load_ports
from scripts.make_sample_feed import (
    INTERCEPTIONS_FILE,
    OUT_DIR,
    VESSELS_FILE,
    generate,
    monthly_persons,
)
from streams.detect.seed import load_seed


def test_the_bundled_feed_is_what_the_script_makes() -> None:
    feed = generate()
    bundled = gzip.decompress((OUT_DIR / INTERCEPTIONS_FILE).read_bytes()).splitlines()
    assert bundled == feed.interceptions
    vessels = gzip.decompress((OUT_DIR / VESSELS_FILE).read_bytes()).splitlines()
    assert vessels == feed.vessels


def test_persons_per_crossing_follow_frontex_and_the_priors_shares() -> None:
    feed = generate(month="2024-10")
    frontex = monthly_persons("2024-10")
    shares = load_seed().crossings
    by_crossing: dict[str, int] = {}
    for (crossing, _, _), (_, persons) in feed.expected.items():
        by_crossing[crossing] = by_crossing.get(crossing, 0) + persons
    assert set(by_crossing) == set(shares)
    for crossing, persons in by_crossing.items():
        # Rounding each crossing's share may move its total by a person.
        assert abs(persons - frontex[shares[crossing].route] * shares[crossing].share) <= 1, crossing


def test_reports_come_in_order_of_arrival_and_vessels_end_in_port() -> None:
    feed = generate(scale=0.3)
    arrivals = [_reported_at(line) for line in feed.interceptions]
    known = [a for a in arrivals if a]
    assert len(known) >= len(arrivals) - feed.bad_lines
    assert sum(1 for a, b in itertools.pairwise(known) if b < a) <= feed.resends + feed.bad_lines
    ports = load_ports()
    last: dict[int, dict] = {}
    for line in feed.vessels:
        report = orjson.loads(line)
        last[report["mmsi"]] = report
    assert last and all(ports.near_one(r["lon"], r["lat"], 3000) and r["sog"] == 0 for r in last.values())


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert generate(scale=0.2).interceptions == generate(scale=0.2).interceptions
    assert generate(scale=0.2).interceptions != generate(scale=0.2, seed=1).interceptions


def _reported_at(line: bytes) -> str:
    try:
        return str(orjson.loads(line)["reported_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return ""
