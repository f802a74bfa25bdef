"""The new entry points with bad input: watch list, subscriptions, NMEA. Clear errors, nothing lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from schemas.rejection import DeadLetter, RejectReason
from streams.kafka.broker import LocalBroker
from streams.kafka.topics import DLQ
from tests.helpers.cli import run
from tests.helpers.kafka_io import read_topic
from tests.helpers.paths import TEST_DATA

AIS = TEST_DATA / "ais"


@pytest.mark.parametrize(
    ("setting", "content", "message"),
    [
        ("BORDERWATCH_WATCH_LIST", "mmsi,name\n22400,\n", "line 2: mmsi '22400' is not 9 digits"),
        ("BORDERWATCH_WATCH_LIST", "colour\nred\n", "must name some of mmsi"),
        (
            "BORDERWATCH_SUBSCRIPTIONS",
            '[[subscription]]\ncentre = "X"\nwebhook = "http://h/x"\n',
            "needs a shared secret",
        ),
        ("BORDERWATCH_SUBSCRIPTIONS", '[[subscription]]\ncentre = "X"\n', "give exactly one channel"),
        ("BORDERWATCH_SUBSCRIPTIONS", "[[subscription]\n", "cannot be read"),
        (
            "BORDERWATCH_SUBSCRIPTIONS",
            '[[subscription]]\ncentre = "X"\ntopic = "t"\nmin_impact = "huge"\n',
            "min_impact",
        ),
    ],
)
def test_a_worker_refuses_to_start_on_a_broken_file(
    tmp_path: Path, setting: str, content: str, message: str
) -> None:
    path = tmp_path / "file"
    path.write_text(content)
    result = run(["worker"], tmp_path, timeout=60, **{setting: str(path)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr


def test_ingest_ais_publishes_positions_and_dead_letters_every_bad_sentence(
    tmp_path: Path, broker: LocalBroker, start_worker: Any
) -> None:
    worker = start_worker()
    result = run(["ingest-ais", str(AIS / "pyais_mixed_aishub.txt")], tmp_path, BORDERWATCH_KAFKA=broker.url)
    assert result.returncode == 0, result.stderr
    assert "23 sentences: 11 vessel reports to reports.vessels, 6 undecodable to dlq" in " ".join(
        result.stdout.split()
    )

    # The worker stores the decodable ones (one carries a feed timestamp centuries ahead,
    # which the worker itself refuses with its reason) and every dead letter.
    status = worker.wait_until(lambda s: s["events"] + s["rejects"] >= 17)
    assert (status["events"], status["rejects"]) == (10, 7)
    # The dead-letter topic holds ingest-ais's six and the worker's one, in any order across partitions.
    letters = [DeadLetter.model_validate_json(r.value) for r in asyncio.run(read_topic(broker.url, DLQ, 7))]
    reasons = sorted(d.reason.value for d in letters)
    assert reasons == ["observed_in_future"] + ["undecodable_nmea"] * 6
    assert b"foobar" in {d.raw for d in letters if d.reason is RejectReason.UNDECODABLE_NMEA}
    rows = worker.sql("SELECT reason, count() FROM borderwatch.rejects GROUP BY reason ORDER BY reason")
    assert rows == [["observed_in_future", 1], ["undecodable_nmea", 6]]


def test_ingest_ais_of_a_missing_file_says_so(tmp_path: Path, broker: LocalBroker) -> None:
    result = run(["ingest-ais", str(tmp_path / "nope.nmea")], tmp_path, BORDERWATCH_KAFKA=broker.url)
    assert result.returncode == 2 and "cannot read" in result.stderr
