"""The sample feed: deterministic, bundled as generated, true to Frontex's monthly totals."""

from __future__ import annotations

import gzip

from scripts.make_sample_feed import (
    INTERCEPTIONS_FILE,
    OUT_DIR,
    VESSELS_FILE,
    generate,
    monthly_persons,
)


def test_the_bundled_feed_is_what_the_script_makes() -> None:
    feed = generate()
    bundled = gzip.decompress((OUT_DIR / INTERCEPTIONS_FILE).read_bytes()).splitlines()
    assert bundled == feed.interceptions
    vessels = gzip.decompress((OUT_DIR / VESSELS_FILE).read_bytes()).splitlines()
    assert vessels == feed.vessels


def test_persons_per_route_follow_frontex() -> None:
    feed = generate(month="2024-10")
    frontex = monthly_persons("2024-10")
    by_route: dict[str, int] = {}
    for (_, route, _), (_, persons) in feed.expected.items():
        by_route[route] = by_route.get(route, 0) + persons
    for route, persons in by_route.items():
        # Rounding each crossing's share may move a route's total by a few persons.
        assert abs(persons - frontex[f"{route} Route"]) <= 3, route


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert generate(scale=0.2).interceptions == generate(scale=0.2).interceptions
    assert generate(scale=0.2).interceptions != generate(scale=0.2, seed=1).interceptions
