"""AIS decoding with pyais on the real samples (tests/data/ais, see PROVENANCE.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce
from operator import xor

import orjson
from pyais import encode_dict

from schemas.rejection import RejectReason
from schemas.reports import VesselReport
from streams.sources.ais import AisDecoder
from tests.helpers.paths import TEST_DATA

SAMPLES = TEST_DATA / "ais"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def decode(name: str, lines: list[bytes] | None = None) -> tuple[AisDecoder, list[tuple[bytes, bytes]]]:
    decoder = AisDecoder("AIS-TEST", name)
    lines = lines if lines is not None else (SAMPLES / name).read_bytes().splitlines()
    return decoder, list(decoder.decode_lines(lines, NOW))


def test_sample_decodes_into_valid_vessel_reports_keyed_by_mmsi() -> None:
    decoder, reports = decode("pyais_nmea_data_sample.txt")
    s = decoder.stats
    # 878 AIVDM sentences: 100 have empty payloads and 20 are first halves of
    # two-sentence messages whose second half is not in the file; the rest decode
    # into positions, static reports and other message types.
    assert (s.reports, s.undecodable, s.without_position) == (758, 120, 4)
    assert s.reports + s.without_position + s.other_types + s.undecodable < s.sentences
    for key, value in reports:
        report = VesselReport.model_validate_json(value)
        assert key == f"mmsi:{report.mmsi}".encode()
    letters = decoder.dead_letters
    assert {d.reason for d in letters} == {RejectReason.UNDECODABLE_NMEA}
    assert letters[0].raw == b"!AIVDM,1,1,,B,,0*25" and letters[0].source_offset == 4
    halves = [d for d in letters if "incomplete multi-sentence" in d.detail]
    assert len(halves) == 20 and halves[0].raw.startswith(b"!AIVDM,2,1,8,A,55DTsr")


def test_two_sentence_static_report_names_the_vessels_later_positions() -> None:
    mixed = (SAMPLES / "pyais_mixed_aishub.txt").read_bytes().splitlines()
    static = mixed[14:16]  # type 5, two sentences: EVER DIADEM, MMSI 351759000
    position = encode_dict({"type": 1, "mmsi": 351759000, "lat": 36.0, "lon": -5.4, "speed": 7.5})
    decoder, reports = decode("static", [*static, position[0].encode()])
    (report,) = [orjson.loads(v) for _, v in reports]
    assert (report["name"], report["callsign"], report["imo"], report["sog"]) == (
        "EVER DIADEM",
        "3FOF8",
        9134270,
        7.5,
    )
    assert decoder.stats.undecodable == 0


def test_gatehouse_wrapper_times_the_positions_that_follow() -> None:
    _, reports = decode("pyais_timestamped.ais")
    times = [orjson.loads(v)["observed_at"] for _, v in reports]
    assert times[0].startswith("2008-05-09T00:00:00") and times[2].startswith("2009-05-09T00:00:00")


def test_tag_block_receiver_timestamp_is_the_observed_time() -> None:
    body = "s:2573535,c:1671533231"
    checksum = reduce(xor, body.encode(), 0)
    line = f"\\{body}*{checksum:02X}\\!AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0*09".encode()
    _, reports = decode("tag", [line])
    assert orjson.loads(reports[0][1])["observed_at"] == "2022-12-20T10:47:11+00:00"


def test_garbage_and_non_ais_sentences_are_counted_and_dead_lettered() -> None:
    decoder, reports = decode("pyais_mixed_aishub.txt")
    assert decoder.stats.undecodable == 6 and len(decoder.dead_letters) == 6
    assert {d.raw for d in decoder.dead_letters} >= {b"foobar", b"IamNotAnAisMessage1111"}
    assert len(reports) == 11
