"""A seeded fuzz run: 10,000 mutated reports at a running worker, then valid ones; nothing stops it."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson

from streams.kafka.broker import LocalBroker
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from tests.helpers.kafka_io import send

SEED = 20261201
MUTANTS = 10_000
INTERCEPTION = {
    "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "reported_at": "2026-11-22T03:40:00Z",
    "lat": 35.889, "lon": -5.317, "crossing_id": "ES-CEUTA-LAND",
    "incident_type": "irregular_crossing_attempt", "persons": 42,
    "persons_detail": {"minors": 5, "women": 3, "nationalities": {"MA": 30, "GN": 12}},
    "facilitators_arrested": 1, "boat_type": "rubber_dinghy", "seizure": {"kind": "cannabis", "kg": 1200.0},
    "notes": "free text",
}  # fmt: skip
VESSEL = {
    "authority": "EMSA", "source": "ais", "observed_at": "2026-11-22T03:00:00Z", "lat": 36.0, "lon": -5.5,
    "mmsi": 224000001, "name": "NUEVO", "sog": 4.5, "cog": 90.0,
}  # fmt: skip
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**31, 2**32 + 1, 2**63, 10**30, -(10**30), 1e308, -0.0, 1e-320, "", "x" * 5000,
    "\u0000", "\u202e", "\ud7ff", "NaN", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00", "2026-13-45T99:99:99Z", [], [1, [2, [3]]], {}, {"a": {"b": {}}},
]


def mutate(rng: random.Random, base: dict[str, Any], n: int) -> bytes:
    """One hostile variant of a valid report, with a report id of its own."""
    report = {**base, "report_id": f"FZ-{n}"}
    choice = rng.randrange(8)
    if choice == 0:
        report.pop(rng.choice(sorted(report)), None)
    elif choice == 1:
        report[rng.choice(sorted(report))] = rng.choice(ODD_VALUES)
    elif choice == 2:
        report[rng.choice(["extra", "PERSONS", "persons ", "__proto__"])] = rng.choice(ODD_VALUES)
    elif choice == 3 and "persons_detail" in report:
        nationality = rng.choice(["MA", "ma", "M\u0000", "XXX"])
        report["persons_detail"] = {"nationalities": {nationality: rng.choice(ODD_VALUES)}}
    raw = json.dumps(report).encode()  # the stdlib writes what orjson refuses: huge ints, NaN
    if choice == 4:  # byte-level damage
        at = rng.randrange(len(raw))
        raw = raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1 :]
    elif choice == 5:
        raw = raw[: rng.randrange(len(raw))]
    elif choice == 6:  # a repeated key, the later one different
        raw = raw[:-1] + b',"persons":' + str(rng.randrange(10**6)).encode() + b"}"
    elif choice == 7:
        raw = b"[" * rng.randrange(1, 3000) + raw
    return raw


def test_ten_thousand_mutants_then_valid_reports_are_all_accounted_for(
    broker: LocalBroker, start_worker: Any
) -> None:
    worker = start_worker()
    rng = random.Random(SEED)
    interceptions = [mutate(rng, INTERCEPTION, n) for n in range(MUTANTS // 2)]
    vessels = [mutate(rng, {**VESSEL, "mmsi": 224000000 + n}, MUTANTS + n) for n in range(MUTANTS // 2)]
    sent = send(broker, INTERCEPTIONS, interceptions) + send(broker, VESSELS, vessels)
    # At least the 42 persons the breakdown names: fewer would be inconsistent (breakdown_exceeds_persons).
    valid = [orjson.dumps({**INTERCEPTION, "report_id": f"VALID-{n}", "persons": n + 42}) for n in range(200)]
    sent += send(broker, INTERCEPTIONS, valid)

    status = worker.wait_until(lambda s: s["processed"] >= sent, timeout_s=300)
    status = worker.wait_until(lambda s: s["events"] + s["rejects"] + s["duplicates"] >= sent, timeout_s=120)
    assert status["events"] + status["rejects"] + status["duplicates"] == sent
    assert status["rejects"] > MUTANTS // 2  # most mutants are refused; some stay valid
    assert worker.process.poll() is None
    assert all(state == "ok" for state in status["health"].values()), status["health"]
    # Every valid report is counted exactly, persons included.
    rows = worker.sql(
        "SELECT count(), sum(persons) FROM borderwatch.events WHERE startsWith(report_id, 'VALID-')"
    )
    assert rows == [[200, sum(range(42, 242))]]
    # Nothing stored is out of its column's range or before the earliest date.
    assert worker.sql(
        "SELECT count() FROM borderwatch.events WHERE persons > 100000 OR observed_at < '2000-01-01'"
    ) == [[0]]
