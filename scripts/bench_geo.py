"""Benchmark: geofence lookups per second on the full-resolution built-in catalogue.

Points: half uniform over the theatre (lon -19.5..37, lat 26..46.5), half drawn
inside the crossings' bounding boxes, where every zone's exact test runs.
Run: python scripts/bench_geo.py [--points 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from geo import load_catalogue, locate


def sample_points(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    catalogue = load_catalogue()
    rng = np.random.default_rng(seed)
    half = n // 2
    lon = [rng.uniform(-19.5, 37.0, half)]
    lat = [rng.uniform(26.0, 46.5, half)]
    boxes = catalogue.crossings.bounds[rng.integers(len(catalogue.crossings.ids), size=n - half)]
    lon.append(rng.uniform(boxes[:, 0], boxes[:, 2]))
    lat.append(rng.uniform(boxes[:, 1], boxes[:, 3]))
    return np.concatenate(lon), np.concatenate(lat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    catalogue = load_catalogue()
    lon, lat = sample_points(args.points)
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        found = locate(catalogue, lon, lat)
        timings.append(time.perf_counter() - started)
    in_crossing = int((found.crossing_id != "").sum())
    best, median = min(timings), float(np.median(timings))
    print(f"points: {args.points:,} ({in_crossing:,} in a crossing), repeats: {args.repeat}")
    print(f"best {best:.3f} s, median {median:.3f} s per pass")
    print(f"geo lookups/s: {args.points / median:,.0f}")


if __name__ == "__main__":
    main()
