"""Feed: a scripted night with embedded anomalies, for the demo and the end-to-end tests.

A surge at Lampedusa, a mass attempt at the Ceuta fence, a go-fast meeting a
mother ship in the Alboran Sea, a vessel going dark in the Strait of Gibraltar
and a watch-listed vessel. Reports are in observed_at order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.codec import encode_obj
from streams.detect.batch import partition_of

MOTHER, GOFAST, DARK, WATCHED, KEEPER = "224000101", "224000102", "224000103", "224000104", "224000105"
WATCH_LIST_CSV = f"mmsi,name,reason\n{WATCHED},,suspected smuggling (demo)\n"
STRAIT_POINT = (35.99, -5.45)  # inside ES-GIB-STRAIT-N
ALBORAN_POINT = (35.95, -3.55)  # inside ES-ALBORAN, 40 km from the nearest port


@dataclass(frozen=True)
class Scenario:
    """Report lines per topic, the watch list, and the alert groups they must raise."""

    interceptions: list[bytes]
    vessels: list[bytes]
    watch_list_csv: str
    expected_groups: frozenset[str]


def build_scenario(start: datetime, partitions: int) -> Scenario:
    """The anomalies, starting at `start` (observed_at of the first report)."""
    vessels: list[tuple[datetime, dict[str, Any]]] = []

    def fix(mmsi: str, at: datetime, lat: float, lon: float, sog: float) -> None:
        report = {
            "report_id": f"AIS-{mmsi}-{int(at.timestamp())}", "authority": "EMSA", "source": "ais",
            "observed_at": at, "lat": round(lat, 6), "lon": round(lon, 6), "mmsi": int(mmsi), "sog": sog,
        }  # fmt: skip
        vessels.append((at, report))

    minute = timedelta(minutes=1)
    # Mother ship and go-fast side by side for 15 minutes, then the go-fast leaves at 25 kn.
    lat, lon = ALBORAN_POINT
    for m in range(16):
        fix(MOTHER, start + m * minute, lat, lon, 0.4)
        fix(GOFAST, start + m * minute + timedelta(seconds=5), lat + _north_deg(300), lon, 0.8)
    for m in range(1, 6):
        fix(GOFAST, start + (15 + m) * minute, lat + _north_deg(300 + m * 770), lon, 25.0)
    # A vessel in the Strait reports for 30 minutes, goes dark for 7 hours, comes back.
    lat, lon = STRAIT_POINT
    for m in range(0, 31, 5):
        fix(DARK, start + m * minute, lat + _north_deg(m * 150), lon, 5.0)
    fix(DARK, start + timedelta(hours=7, minutes=30), lat + _north_deg(2000), lon, 5.0)
    # A vessel on the dark one's partition keeps that partition's event clock moving.
    keeper = same_partition_mmsi(DARK, partitions)
    for k in range(17):
        fix(keeper, start + k * 30 * minute, 38.5, 4.0 + k * 0.1, 10.0)
    # The watch-listed vessel, at sea far from every zone.
    for k in range(3):
        fix(WATCHED, start + k * 10 * minute, 38.0, 6.5 + k * 0.02, 9.0)

    interceptions: list[tuple[datetime, dict[str, Any]]] = []
    for n in range(12):  # 120 persons within the hour at Lampedusa
        at = start + timedelta(minutes=5 * n)
        interceptions.append(
            (at, _interception(f"IT-LMP-{n}", "IT-GDF", at, "IT-LAMPEDUSA", 10, "interception_at_sea"))
        )
    for n, persons in enumerate((50, 40, 30)):  # 120 persons within 10 minutes at the Ceuta fence
        at = start + timedelta(minutes=20 + 4 * n)
        interceptions.append(
            (
                at,
                _interception(
                    f"ES-CEU-{n}", "ES-GC", at, "ES-CEUTA-LAND", persons, "irregular_crossing_attempt"
                ),
            )
        )
    expected = frozenset(
        {
            f"encounter:mmsi:{MOTHER}|mmsi:{GOFAST}",
            f"ais_gap:mmsi:{DARK}",
            f"vessel_of_interest:mmsi:{WATCHED}",
            "surge:IT-LAMPEDUSA",
            "surge:ES-CEUTA-LAND",
            "mass_attempt:ES-CEUTA-LAND",
        }
    )
    return Scenario(_lines(interceptions), _lines(vessels), WATCH_LIST_CSV, expected)


def _interception(
    report_id: str, authority: str, at: datetime, crossing: str, persons: int, kind: str
) -> dict[str, Any]:
    return {
        "report_id": report_id, "authority": authority, "observed_at": at, "crossing_id": crossing,
        "incident_type": kind, "persons": persons,
    }  # fmt: skip


def _lines(reports: list[tuple[datetime, dict[str, Any]]]) -> list[bytes]:
    return [encode_obj(r) for _, r in sorted(reports, key=lambda pair: pair[0])]


def _north_deg(metres: float) -> float:
    return math.degrees(metres / 6_371_008.8)


def same_partition_mmsi(mmsi: str, partitions: int) -> str:
    """An MMSI from KEEPER upwards whose vessel key lands on the same partition as `mmsi`'s."""
    target = partition_of(f"mmsi:{mmsi}", partitions)
    candidate = int(KEEPER)
    while partition_of(f"mmsi:{candidate}", partitions) != target:
        candidate += 1
    return str(candidate)


def default_start(now: datetime | None = None) -> datetime:
    """Yesterday at 01:00 UTC: in the past, so no report is refused as from the future."""
    today = (now or datetime.now(UTC)).replace(hour=1, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)
