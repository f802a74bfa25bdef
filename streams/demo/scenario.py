"""Feed: a scripted night with embedded anomalies, for the demo and the end-to-end tests.

A surge at Lampedusa, a mass attempt at the Ceuta fence, a go-fast meeting a
mother ship in the Alboran Sea, a vessel going dark in the Strait of Gibraltar
and a watch-listed vessel, on the night of 27 to 28 April 2025, inside the
sample month (streams/data), so that the sample and the night share one
timeline. Reports are in order of arrival.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from geo.distance import distance_m
from schemas.codec import decode_obj, encode_obj
from streams.detect.columns import partition_of

MOTHER, GOFAST, DARK, WATCHED, KEEPER = "224000101", "224000102", "224000103", "224000104", "224000105"
WATCH_LIST_CSV = f"mmsi,name,reason\n{WATCHED},,suspected smuggling (demo)\n"
STRAIT_POINT = (35.99, -5.45)  # inside ES-GIB-STRAIT-N
ALBORAN_POINT = (35.95, -3.55)  # inside ES-ALBORAN, 40 km from the nearest port
# Ports of geo/data/ports.geojson the voyages end at (UN/LOCODE ESMOT, GIGIB, ESMAH, DZCOL).
MOTRIL, GIBRALTAR, MAHON, COLLO = (
    (36.722171, -3.517353),
    (36.071199, -5.443571),
    (39.876154, 4.28608),
    (37.047954, 6.538015),
)
SCRIPTED_NIGHT = datetime(2025, 4, 28, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Scenario:
    """Report lines per topic, the watch list, and the alert groups they must raise."""

    interceptions: list[bytes]
    vessels: list[bytes]
    watch_list_csv: str
    expected_groups: frozenset[str]


def build_scenario(start: datetime, partitions: int) -> Scenario:
    """The anomalies, starting at `start` (observed_at of the first report).

    Every scripted vessel ends its voyage in port, where a silent vessel is
    moored rather than dark; only the one meant to go dark does. Interception
    reports arrive some minutes to hours after the event, as centres report.

    Long because it is the script of the night, read top to bottom as the demo tells it.
    """
    vessels: list[tuple[datetime, dict[str, Any]]] = []

    def fix(mmsi: str, at: datetime, lat: float, lon: float, sog: float) -> None:
        report = {
            "report_id": f"AIS-{mmsi}-{int(at.timestamp())}", "authority": "EMSA", "source": "ais",
            "observed_at": at, "lat": round(lat, 6), "lon": round(lon, 6), "mmsi": int(mmsi), "sog": sog,
        }  # fmt: skip
        vessels.append((at, report))

    def voyage(
        mmsi: str, at: datetime, lat: float, lon: float, port: tuple[float, float], sog: float
    ) -> None:
        """Fixes every 10 minutes from (lat, lon) to a port at `sog` knots, the last one alongside."""
        metres = distance_m(lat, lon, *port)
        legs = max(1, math.ceil(metres / (sog * 1852 / 6)))
        for n in range(1, legs + 1):
            f = n / legs
            fix(
                mmsi,
                at + n * 10 * minute,
                lat + f * (port[0] - lat),
                lon + f * (port[1] - lon),
                sog if n < legs else 0.0,
            )

    minute = timedelta(minutes=1)
    # Mother ship and go-fast side by side for 15 minutes; then both make for Motril.
    lat, lon = ALBORAN_POINT
    for m in range(16):
        fix(MOTHER, start + m * minute, lat, lon, 0.4)
        fix(GOFAST, start + m * minute + timedelta(seconds=5), lat + _north_deg(300), lon, 0.8)
    voyage(MOTHER, start + 15 * minute, lat, lon, MOTRIL, 12.0)
    voyage(GOFAST, start + 16 * minute, lat + _north_deg(300), lon, MOTRIL, 25.0)
    # A vessel in the Strait reports for 30 minutes, goes dark for 7 hours, returns and makes for Gibraltar.
    lat, lon = STRAIT_POINT
    for m in range(0, 31, 5):
        fix(DARK, start + m * minute, lat + _north_deg(m * 150), lon, 5.0)
    back = start + timedelta(hours=7, minutes=30)
    fix(DARK, back, lat + _north_deg(2000), lon, 5.0)
    voyage(DARK, back, lat + _north_deg(2000), lon, GIBRALTAR, 5.0)
    # A vessel on the dark one's partition keeps that partition's event clock moving for 8 hours.
    keeper = same_partition_mmsi(DARK, partitions)
    for k in range(17):
        f = k / 16
        fix(keeper, start + k * 30 * minute, 38.5 + f * (MAHON[0] - 38.5), 4.0 + f * (MAHON[1] - 4.0),
            10.0 if k < 16 else 0.0)  # fmt: skip
    # The watch-listed vessel, at sea far from every crossing, bound for Collo.
    fix(WATCHED, start, 38.0, 6.5, 9.0)
    voyage(WATCHED, start, 38.0, 6.5, COLLO, 9.0)

    interceptions: list[tuple[datetime, dict[str, Any]]] = []
    for n in range(36):  # 36 boats, some 1,500 persons, within six hours at Lampedusa
        at = start + timedelta(minutes=10 * n)
        reported = at + timedelta(minutes=30 + 7 * (n % 12))
        interceptions.append((reported, _interception(
            f"IT-LMP-{n}", "IT-GDF", at, reported, "IT-LAMPEDUSA", 38 + n % 9, "interception_at_sea",
        )))  # fmt: skip
    for n, persons in enumerate((50, 40, 30)):  # 120 persons within 10 minutes at the Ceuta fence
        at = start + timedelta(minutes=20 + 4 * n)
        reported = at + timedelta(minutes=15)
        interceptions.append((reported, _interception(
            f"ES-CEU-{n}", "ES-GC", at, reported, "ES-CEUTA-LAND", persons, "irregular_crossing_attempt",
        )))  # fmt: skip
    expected = frozenset(
        {
            f"encounter:mmsi:{MOTHER}+mmsi:{GOFAST}",
            f"ais_gap:mmsi:{DARK}",
            f"vessel_of_interest:mmsi:{WATCHED}",
            "surge:IT-LAMPEDUSA",
            "surge:ES-CEUTA-LAND",
            "mass_attempt:ES-CEUTA-LAND",
        }
    )
    return Scenario(_lines(interceptions), _lines(vessels), WATCH_LIST_CSV, expected)


def _interception(
    report_id: str, authority: str, at: datetime, reported: datetime, crossing: str, persons: int, kind: str
) -> dict[str, Any]:
    return {
        "report_id": report_id, "authority": authority, "observed_at": at, "reported_at": reported,
        "crossing_id": crossing, "incident_type": kind, "persons": persons,
    }  # fmt: skip


def _lines(reports: list[tuple[datetime, dict[str, Any]]]) -> list[bytes]:
    """In order of arrival: when the report reached the centre's producer."""
    return [encode_obj(r) for _, r in sorted(reports, key=lambda pair: pair[0])]


def interleave(sample: Iterable[bytes], night: Iterable[bytes]) -> list[bytes]:
    """Two feeds' lines merged by arrival (`reported_at`, else `observed_at`), as one centre would send them.

    A line that is not a report (the sample's malformed ones) keeps its place
    after the line before it.
    """
    return [line for _, line in heapq.merge(_arrivals(sample), _arrivals(night), key=lambda pair: pair[0])]


def _arrivals(lines: Iterable[bytes]) -> list[tuple[str, bytes]]:
    keyed, last = [], ""
    for line in lines:
        try:
            report = decode_obj(line)
            last = str(report.get("reported_at") or report["observed_at"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        keyed.append((last, line))
    return keyed


def _north_deg(metres: float) -> float:
    return math.degrees(metres / 6_371_008.8)


def same_partition_mmsi(mmsi: str, partitions: int) -> str:
    """An MMSI from KEEPER upwards whose vessel key lands on the same partition as `mmsi`'s."""
    target = partition_of(f"mmsi:{mmsi}", partitions)
    candidate = int(KEEPER)
    while partition_of(f"mmsi:{candidate}", partitions) != target:
        candidate += 1
    return str(candidate)


def default_start() -> datetime:
    """The night of 27 to 28 April 2025, inside the sample month: the demo tells one story."""
    return SCRIPTED_NIGHT
