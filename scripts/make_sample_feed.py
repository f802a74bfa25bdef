"""Make the demo's sample feed from Frontex's monthly detections per route (deterministic, seeded).

Each route's persons for the chosen month are spread over that route's
crossings with the shares the detectors' prior uses
(streams/data/sources/crossing_shares.csv), in boats of the route's size
(boat_sizes.csv), with night-heavy hours and positions drawn inside the
crossing polygons. Reports are written in order of arrival, some minutes to a
day after the event. Vessel tracks cross the same sectors and end in port. A few
malformed reports and producer resends are mixed in so the dead-letter and
de-duplication paths show. The reports are synthetic; the monthly totals are
Frontex's (see streams/data/sources/PROVENANCE.md).

Run: python scripts/make_sample_feed.py [--month 2025-04] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import math
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import shapely

from geo.catalogue import Catalogue, load_catalogue
from geo.distance import distance_m
from geo.ports import load_ports
from streams.detect.seed import CrossingSeed, load_seed

ROOT = Path(__file__).resolve().parents[1]
FRONTEX_CSV = ROOT / "streams" / "data" / "sources" / "frontex_ibc_monthly_by_route.csv"
OUT_DIR = ROOT / "streams" / "data"
INTERCEPTIONS_FILE = "sample_interceptions.jsonl.gz"
VESSELS_FILE = "sample_vessels.jsonl.gz"

AUTHORITIES = {"ESP": "ES-GC", "MAR": "MA-FAR", "ITA": "IT-GDF", "MLT": "MT-AFM", "GRC": "GR-HCG"}
# Night-heavy hour-of-day weights.
HOUR_WEIGHTS = np.array([6, 7, 7, 8, 8, 7, 5, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6],
                        dtype=float)  # fmt: skip
# Reporting delay after the event (an assumption within EUROSUR's 24 h deadline):
# most within two hours, a quarter within the shift, a few the next day.
DELAYS_MIN = ((0.70, 10, 120), (0.25, 120, 480), (0.05, 480, 1200))  # (share, from, to) in minutes
LAND_GROUP = (1, 40)  # persons per report at a fence or land crossing: people cross in small groups
SEA_TYPES = ("interception_at_sea", "search_and_rescue", "irregular_crossing_attempt")
BAD_SHARE = 0.01
RESEND_SHARE = 0.01
VESSEL_KN = 10.0


@dataclass
class Feed:
    """Lines for each input topic plus the exact counts a correct pipeline must produce."""

    interceptions: list[bytes] = field(default_factory=list)
    vessels: list[bytes] = field(default_factory=list)
    bad_lines: int = 0
    resends: int = 0
    # (crossing_id, route, incident_type) -> [reports, persons], counted once per report.
    expected: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)

    def expected_totals(self) -> tuple[int, int]:
        """(reports, persons) over all crossings."""
        return (
            sum(v[0] for v in self.expected.values()),
            sum(v[1] for v in self.expected.values()),
        )


def monthly_persons(month: str, path: Path = FRONTEX_CSV) -> dict[str, int]:
    """Frontex persons per route for one month (YYYY-MM)."""
    with path.open(newline="") as handle:
        return {row["route"]: int(row["n"]) for row in csv.DictReader(handle) if row["month"] == month}


def points_in(geom: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points drawn uniformly inside a polygon, by vectorised rejection sampling."""
    xmin, ymin, xmax, ymax = geom.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        # Round first (as the wire carries 5 decimals), then keep the points still inside.
        xy = np.round(rng.uniform((xmin, ymin), (xmax, ymax), size=(max(64, 4 * n), 2)), 5)
        out = np.vstack([out, xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])]])
    return out[:n]


def generate(
    month: str = "2025-04", scale: float = 1.0, seed: int = 20251122,
    catalogue: Catalogue | None = None, vessels: int = 60, fixes_per_vessel: int = 24,
) -> Feed:  # fmt: skip
    """Build the feed; the same arguments always give the same bytes."""
    catalogue = catalogue or load_catalogue()
    rng = np.random.default_rng(seed)
    persons_by_route = monthly_persons(month)
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=UTC)
    days = monthrange(year, mon)[1]
    prior = load_seed()  # the same shares and boat sizes the detectors' prior uses
    feed = Feed()
    serial: dict[str, int] = {}
    timed: list[tuple[datetime, bytes]] = []
    for crossing_id, share in prior.crossings.items():
        total = round(persons_by_route.get(share.route, 0) * scale * share.share)
        timed += _crossing_reports(feed, catalogue, crossing_id, share, total, start, days, rng, serial)
    feed.interceptions = [line for _, line in sorted(timed, key=lambda pair: pair[0])]
    _spoil(feed, rng)
    _vessel_tracks(feed, catalogue, start, days, rng, vessels, fixes_per_vessel)
    return feed


def _crossing_reports(
    feed: Feed, catalogue: Catalogue, crossing_id: str, seed: CrossingSeed, persons: int,
    start: datetime, days: int, rng: np.random.Generator, serial: dict[str, int],
) -> list[tuple[datetime, bytes]]:  # fmt: skip
    """A crossing's reports, each with the time it reached the producer."""
    props = catalogue.crossings.props[catalogue.crossings.index_of(crossing_id)]
    kind, country, route = props["kind"], props["country"], props["route"]
    sizes: list[int] = []
    while sum(sizes) < persons:
        if kind == "sea_sector":  # boats of the route's size: gamma with its mean and sd
            shape = (seed.boat_mean / seed.boat_sd) ** 2
            size = max(1, round(rng.gamma(shape, seed.boat_mean / shape)))
        else:
            size = int(rng.integers(LAND_GROUP[0], LAND_GROUP[1] + 1))
        sizes.append(min(size, persons - sum(sizes)))
    if not sizes:
        return []
    geom = catalogue.crossings.geoms[catalogue.crossings.index_of(crossing_id)]
    xy = points_in(geom, len(sizes), rng)
    authority = AUTHORITIES[country]
    out = []
    for (lon, lat), size in zip(xy, sizes):
        serial[authority] = serial.get(authority, 0) + 1
        observed = start + timedelta(
            days=int(rng.integers(days)),
            hours=int(rng.choice(24, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())),
            minutes=int(rng.integers(60)),
        )
        reported = observed + timedelta(minutes=_delay_min(rng))
        incident = ("irregular_crossing_attempt" if kind != "sea_sector"
                    else SEA_TYPES[int(rng.integers(len(SEA_TYPES)))])  # fmt: skip
        report = {
            "report_id": f"{authority}-{start:%Y}-{serial[authority]:06d}",
            "authority": authority,
            "observed_at": observed.isoformat().replace("+00:00", "Z"),
            "reported_at": reported.isoformat().replace("+00:00", "Z"),
            "lat": float(lat), "lon": float(lon),
            "incident_type": incident,
            "persons": size,
            "persons_detail": {"minors": int(rng.integers(0, size // 5 + 1))},
        }  # fmt: skip
        if kind == "sea_sector":
            report["boat_type"] = "cayuco" if route == "Western African" else "rubber_dinghy"
        out.append((reported, orjson.dumps(report)))
        cell = feed.expected.setdefault((crossing_id, route, incident), [0, 0])
        cell[0] += 1
        cell[1] += size
    return out


def _delay_min(rng: np.random.Generator) -> int:
    shares = [share for share, _, _ in DELAYS_MIN]
    _, low, high = DELAYS_MIN[int(rng.choice(len(DELAYS_MIN), p=shares))]
    return int(rng.integers(low, high))


def _spoil(feed: Feed, rng: np.random.Generator) -> None:
    """Add producer resends and malformed reports to the lines, which are in order of arrival."""
    lines = feed.interceptions
    n = len(lines)
    resend_at = rng.choice(n, size=int(n * RESEND_SHARE), replace=False)
    spoilers = (
        lambda line: line[: len(line) // 2],  # truncated JSON
        lambda line: line.replace(b'"persons":', b'"persons":-', 1),
        lambda line: line.replace(b'"incident_type":"', b'"incident_type":"x_', 1),
        lambda line: line.replace(b'"lat":', b'"lat":1', 1),  # out of range
        lambda line: b"",
    )
    spoiled = []
    for i in rng.choice(n, size=int(n * BAD_SHARE), replace=False):
        spoiled.append(spoilers[len(spoiled) % len(spoilers)](lines[i]))
    out = list(lines)
    for i in sorted(resend_at):
        out.insert(min(len(out), int(i) + int(rng.integers(1, 200))), lines[i])
    for line in spoiled:
        # Spoiled copies carry a fresh report id so they never shadow a good report.
        out.insert(int(rng.integers(len(out) + 1)), line.replace(b"-20", b"-BAD20", 1))
    feed.interceptions = out
    feed.resends = len(resend_at)
    feed.bad_lines = len(spoiled)


def _vessel_tracks(
    feed: Feed, catalogue: Catalogue, start: datetime, days: int, rng: np.random.Generator,
    vessels: int, fixes: int,
) -> None:  # fmt: skip
    """Each vessel wanders a sea sector, then makes for the nearest port: it ends alongside, not dark."""
    ports = load_ports()
    sectors = [cid for cid, props in zip(catalogue.crossings.ids, catalogue.crossings.props)
               if props["kind"] == "sea_sector"]  # fmt: skip
    timed: list[tuple[datetime, bytes]] = []
    for v in range(vessels):
        crossing_id = sectors[v % len(sectors)]
        geom = catalogue.crossings.geoms[catalogue.crossings.index_of(crossing_id)]
        lon, lat = points_in(geom, 1, rng)[0]
        t = start + timedelta(days=int(rng.integers(days - 1)), minutes=int(rng.integers(1440)))
        mmsi = 224_000_000 + v if crossing_id.startswith("ES") else 247_000_000 + v
        track = []
        for _ in range(fixes):
            lon, lat = lon + rng.normal(0, 0.01), lat + rng.normal(0, 0.01)
            t += timedelta(minutes=10)
            track.append((t, lon, lat, round(float(abs(rng.normal(8, 3))), 1)))
        _, port_lon, port_lat = ports.nearest(lon, lat)
        legs = max(1, math.ceil(distance_m(lat, lon, port_lat, port_lon) / (VESSEL_KN * 1852 / 6)))
        for n in range(1, legs + 1):
            f, t = n / legs, t + timedelta(minutes=10)
            track.append(
                (t, lon + f * (port_lon - lon), lat + f * (port_lat - lat), VESSEL_KN if n < legs else 0.0)
            )
        for at, x, y, sog in track:
            timed.append((at, orjson.dumps({
                "report_id": f"AIS-{mmsi}-{int(at.timestamp())}", "authority": "EMSA-AIS",
                "source": "ais", "observed_at": at.isoformat().replace("+00:00", "Z"),
                "lat": round(float(y), 5), "lon": round(float(x), 5), "mmsi": mmsi, "sog": sog,
            })))  # fmt: skip
    feed.vessels = [line for _, line in sorted(timed, key=lambda pair: pair[0])]


def write_lines(path: Path, lines: list[bytes]) -> None:
    """Gzip JSON lines with a fixed header so the bytes are reproducible."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as handle:
        for line in lines:
            handle.write(line + b"\n")
    path.write_bytes(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2025-04")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    feed = generate(args.month, args.scale)
    args.out.mkdir(parents=True, exist_ok=True)
    write_lines(args.out / INTERCEPTIONS_FILE, feed.interceptions)
    write_lines(args.out / VESSELS_FILE, feed.vessels)
    reports, persons = feed.expected_totals()
    print(
        f"{len(feed.interceptions)} interception lines ({reports} reports, {persons} persons, "
        f"{feed.resends} resends, {feed.bad_lines} malformed), {len(feed.vessels)} vessel lines"
    )


if __name__ == "__main__":
    main()
