"""Replay's check of each line: malformed lines and reports for the other topic are skipped and counted,
with their line numbers; everything else is sent as written for the worker to validate."""

from __future__ import annotations

import pytest

from schemas.events import ReportKind
from streams.sources.line_check import LineVerdict, ReplayTally, check_line

INTERCEPTION = b'{"report_id":"r1","authority":"ES-GC","observed_at":"2025-04-01T10:00:00Z","lat":35.9,' \
               b'"lon":-5.3,"incident_type":"irregular_crossing_attempt","persons":3}'  # fmt: skip
VESSEL = b'{"report_id":"v1","authority":"ES-GC","observed_at":"2025-04-01T10:00:00Z","source":"ais",' \
         b'"lat":35.9,"lon":-5.3,"mmsi":224000101}'  # fmt: skip


@pytest.mark.parametrize(
    ("line", "kind", "verdict"),
    [
        (INTERCEPTION, ReportKind.INTERCEPTION, LineVerdict.SEND),
        (VESSEL, ReportKind.VESSEL, LineVerdict.SEND),
        (INTERCEPTION, ReportKind.VESSEL, LineVerdict.WRONG_TOPIC),
        (VESSEL, ReportKind.INTERCEPTION, LineVerdict.WRONG_TOPIC),
        (b"report_id,authority,lat,lon", ReportKind.INTERCEPTION, LineVerdict.MALFORMED),  # a CSV line
        (INTERCEPTION[: len(INTERCEPTION) // 2], ReportKind.INTERCEPTION, LineVerdict.MALFORMED),
        (b"[1, 2]", ReportKind.VESSEL, LineVerdict.MALFORMED),
        # Not for replay to judge: no field of either kind, or a bad value; the worker refuses it.
        (b'{"report_id":"x"}', ReportKind.VESSEL, LineVerdict.SEND),
        (INTERCEPTION.replace(b'"persons":3', b'"persons":-3'), ReportKind.INTERCEPTION, LineVerdict.SEND),
    ],
)
def test_each_line_is_sent_skipped_for_the_other_topic_or_malformed(
    line: bytes, kind: ReportKind, verdict: LineVerdict
) -> None:
    assert check_line(line, kind) is verdict


def test_the_tally_counts_and_names_the_first_lines_of_each_problem() -> None:
    tally = ReplayTally(ReportKind.VESSEL)
    lines = [VESSEL, INTERCEPTION, b"a,b", VESSEL, *([b"{"] * 6)]
    admitted = [n for n, line in enumerate(lines, start=1) if tally.admit(n, line)]
    assert admitted == [1, 4]
    assert tally.summary("reports.vessels", "reports.interceptions") == [
        "sent 2 lines to reports.vessels; skipped 1 line for reports.interceptions (interception reports) "
        "and 7 malformed lines (no JSON object)",
        "  for reports.interceptions: line 2",
        "  malformed: line 3, 5, 6, 7, 8 and 2 more",
    ]
