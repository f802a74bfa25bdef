"""What counts, alerts and sql print: table, JSON and CSV from plain rows, hostile values included."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.cli.output import (
    ALERT_COLUMNS,
    OutputFormat,
    alert_detail,
    alert_lines,
    columns_and_rows,
    counts_table,
    ranked_alerts,
    render,
    render_csv,
    render_json,
    rich_table,
    silence_lines,
)

HOSTILE = [
    "plain",
    "Ceuta, Spain",
    'the "Sea Star"',
    "two\nlines",
    "carriage\rreturn",
    "crlf\r\nend",
    'all, of "them"\n',
]


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def shown(renderable: Any, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def one_alert(alert_id: str, headline: str = "Surge at IT-LAMPEDUSA: 180 persons in 6 h") -> dict[str, Any]:
    at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    return Alert(
        id=alert_id, version=1, kind=AlertKind.SURGE, status=AlertStatus.NEW, impact=Impact.HIGH,
        confidence=0.9, zone_id="IT-LAMPEDUSA", route="Central Mediterranean",
        window_start=at - timedelta(hours=6), window_end=at, event_ids=["IT:1", "IT:2"],
        headline=headline, description="d", opened_at=at, sent_at=at,
    ).model_dump(mode="json")  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_quotes_commas_quotes_and_line_breaks_so_every_value_reads_back(value: str) -> None:
    text = render_csv(["id", "note"], [[1, value], [2, "after"]])
    assert parse_csv(text) == [["id", "note"], ["1", value], ["2", "after"]]
    if any(c in value for c in ',"\r\n'):
        assert f'"{value.replace(chr(34), chr(34) * 2)}"' in text


def test_csv_rows_end_in_crlf_and_have_a_header() -> None:
    assert render_csv(["a", "b"], [["x", 1]]) == "a,b\r\nx,1\r\n"


@pytest.mark.parametrize(
    "value",
    ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x")\n=1'],
)
def test_csv_defuses_cells_a_spreadsheet_would_run_as_formulas(value: str) -> None:
    [_, row] = parse_csv(render_csv(["note"], [[value]]))
    assert row == ["'" + value]


def test_csv_defuses_a_formula_in_a_column_name_but_leaves_numbers_alone() -> None:
    [header, row] = parse_csv(render_csv(["=1+1", "n", "x"], [[-5, -1.5, Decimal("-2.50")]]))
    assert header == ["'=1+1", "n", "x"]
    assert row == ["-5", "-1.5", "-2.50"]


def test_csv_writes_times_as_iso_lists_as_json_and_none_as_empty() -> None:
    at = datetime(2026, 11, 23, 3, 0, 5, 250000, tzinfo=UTC)
    row = [at, date(2026, 1, 2), ["a", "b"], None, True]
    [_, back] = parse_csv(render_csv(["at", "day", "ids", "gone", "ok"], [row]))
    assert back == ["2026-11-23T03:00:05.250000+00:00", "2026-01-02", '["a","b"]', "", "true"]


def test_json_round_trips_datetimes_and_numbers_exactly() -> None:
    at = datetime(2026, 11, 23, 3, 0, 5, 250000, tzinfo=timezone(timedelta(hours=2)))
    values = {"at": at, "day": date(2026, 1, 2), "int": 42, "neg": -7, "u64": 2**64 - 1, "big": 2**70,
              "small": -(2**70), "float": 0.1, "dec": Decimal("12.50"), "none": None, "bool": True,
              "list": ["a", 1]}  # fmt: skip
    columns, [row] = columns_and_rows([values])
    [back] = json.loads(render_json(columns, [row]), parse_float=Decimal)
    assert datetime.fromisoformat(back["at"]) == at and back["day"] == "2026-01-02"
    assert [back[c] for c in ("int", "neg", "u64", "big", "small")] == [42, -7, 2**64 - 1, 2**70, -(2**70)]
    assert back["float"] == Decimal("0.1") and back["dec"] == Decimal("12.50")
    assert (back["none"], back["bool"], back["list"]) == (None, True, ["a", 1])


def test_json_keeps_hostile_strings_verbatim_and_writes_one_array() -> None:
    text = render_json(["note"], [[v] for v in [*HOSTILE, "=cmd|' /C calc'!A0", "\x1b[31mred"]])
    assert text.endswith("]\n") and text.count("\n") == 1  # one line: newlines in values are escaped
    assert [r["note"] for r in json.loads(text)] == [*HOSTILE, "=cmd|' /C calc'!A0", "\x1b[31mred"]


def test_json_of_non_finite_numbers_is_null() -> None:
    text = render_json(["a", "b"], [[float("nan"), Decimal("Infinity")]])
    assert json.loads(text) == [{"a": None, "b": None}]


def test_empty_results() -> None:
    assert render_json(["a"], []) == "[]\n"
    assert render_csv(["a", "b"], []) == "a,b\r\n"
    assert render_csv([], []) == ""
    assert columns_and_rows([]) == ([], [])
    assert "no reports yet" in shown(counts_table([], "counts"), 80)
    assert "(no alerts yet)" in alert_lines([], "alerts", 80)


def test_render_picks_the_format_and_refuses_table() -> None:
    assert render(OutputFormat.JSON, ["a"], [[1]]) == '[{"a":1}]\n'
    assert render(OutputFormat.CSV, ["a"], [[1]]) == "a\r\n1\r\n"
    with pytest.raises(ValueError, match="'table'"):
        render(OutputFormat.TABLE, ["a"], [[1]])


def test_columns_and_rows_of_records_keep_order_and_fill_gaps() -> None:
    columns, rows = columns_and_rows([{"b": 1, "a": 2}, {"a": 3, "c": 4}])
    assert columns == ["b", "a", "c"] and rows == [[1, 2, None], [None, 3, 4]]


def test_alert_records_in_json_are_alerts_again() -> None:
    records = [one_alert("surge:IT-LAMPEDUSA:1764000000"), one_alert("ais_gap:mmsi:224000103:1764000000")]
    columns, rows = columns_and_rows(records)
    assert tuple(columns) == ALERT_COLUMNS
    assert [Alert.model_validate(a) for a in json.loads(render_json(columns, rows))] == [
        Alert.model_validate(a) for a in records
    ]


@pytest.mark.parametrize("width", [60, 80, 160])
def test_the_alert_table_shows_each_id_whole_on_one_line_however_narrow(width: int) -> None:
    ids = ["vessel_of_interest:mmsi:224000104:1764000000", "encounter:mmsi:22400010+mmsi:22400020:1764000000"]
    text = "\n".join(alert_lines([one_alert(i, "a rather long headline " * 4) for i in ids], "alerts", width))
    for alert_id in ids:
        assert any(alert_id in line for line in text.splitlines()), text


def test_table_cells_are_text_not_markup_and_control_characters_show_escaped() -> None:
    table = rich_table(["note"], [["[bold]x[/bold] [/]"], ["\x1b[2Jcleared"], ["SEA\u202eRATS"]])
    text = shown(table, 80)
    assert "[bold]x[/bold] [/]" in text
    assert "\\x1b[2Jcleared" in text and "\x1b" not in text
    assert "SEA\\u202eRATS" in text


def test_counts_table_marks_empty_groups_and_right_aligns_numbers() -> None:
    text = shown(counts_table([{"route": "", "reports": 3, "persons": 1200}], "counts by route"), 80)
    assert "(none)" in text and "1200" in text


AT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
SURGE_REASON = (
    "40 reports in 24 h at ES-CEUTA-LAND, expected 3 (99% upper bound 12); persons 410, expected 35; "
    "tail probability 3.5e-09"
)


def alert(
    alert_id: str, kind: AlertKind, impact: Impact, zone: str = "", hours_ago: float = 0, **extra: Any
) -> dict[str, Any]:
    end = AT - timedelta(hours=hours_ago)
    return {
        **Alert(
            id=alert_id, version=1, kind=kind, status=AlertStatus.NEW, impact=impact, confidence=0.99,
            zone_id=zone, window_start=end - timedelta(hours=6), window_end=end,
            headline=extra.pop("headline", f"{kind.value} alert"),
            description=extra.pop("description", SURGE_REASON), opened_at=AT, sent_at=AT,
        ).model_dump(mode="json"),
        "acks": [], "silenced_by": None, "stale": False, **extra,
    }  # fmt: skip


ALERTS = [
    alert("ais_gap:mmsi:224000103:1764000000", AlertKind.AIS_GAP, Impact.LOW, description="dark for 7.2 h"),
    alert(
        "encounter:mmsi:22400010+mmsi:22400020:1764000000",
        AlertKind.ENCOUNTER,
        Impact.MEDIUM,
        description="two vessels within 120 m for 2.5 h at 0.8 kn",
    ),
    alert("surge:ES-CEUTA-LAND:1764000000", AlertKind.SURGE, Impact.VERY_HIGH, "ES-CEUTA-LAND"),
    alert(
        "vessel_of_interest:mmsi:224000104:1764000000", AlertKind.VESSEL_OF_INTEREST, Impact.HIGH, hours_ago=2
    ),
    alert(
        "mass_attempt:ES-MELILLA-FENCE-SECTOR-NORTH:1764000000",
        AlertKind.MASS_ATTEMPT,
        Impact.VERY_HIGH,
        "ES-MELILLA-FENCE-SECTOR-NORTH",
        status="resolved",
        hours_ago=1,
    ),
]


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_alert_list_fits_the_width_with_each_id_whole_and_a_reason_under_it(width: int) -> None:
    lines = alert_lines(ALERTS, "5 alerts, most severe first", width)
    assert all(cell_len(line) <= width for line in lines), "\n".join(lines)
    rows = lines[3::2]
    reasons = lines[4::2]
    assert len(rows) == len(reasons) == len(ALERTS)
    for a, row, reason in zip(ranked_alerts(ALERTS), rows, reasons, strict=True):
        assert row.endswith(a["id"]) and row.startswith(a["impact"])  # the id whole, on one line
        assert reason.startswith(f"  {a['kind']}" + (f", {a['zone_id']}: " if a["zone_id"] else ": "))
    assert lines[1].split() == ["IMPACT", "STATUS", "ID"] and lines[2] == "  kind, zone: reason"
    assert reasons[0].startswith("  surge, ES-CEUTA-LAND: 40 reports in 24 h")  # the detector's figures
    if width < 140:
        assert reasons[0].endswith("…")  # cut to the line, never wrapped
    else:
        assert reasons[0] == "  surge, ES-CEUTA-LAND: " + SURGE_REASON


def test_with_headlines_each_id_has_its_headline_and_reason_under_it_within_80_columns() -> None:
    # The demo's list: ids beside headlines, and the reasons on screen.
    lines = alert_lines(ALERTS, "alerts", 80, headlines=True)
    assert all(cell_len(line) <= 80 for line in lines) and lines[2] == "  headline: reason"
    for a, row, reason in zip(ranked_alerts(ALERTS), lines[3::2], lines[4::2], strict=True):
        assert row.endswith(a["id"])
        assert reason.startswith(f"  {a['headline']}: ")
    assert lines[4].startswith(f"  {ranked_alerts(ALERTS)[0]['headline']}: 40 reports in 24 h")
    met = alert(
        "encounter:mmsi:1+mmsi:2:1", AlertKind.ENCOUNTER, Impact.HIGH,
        headline="Encounter at sea: mmsi:1 and mmsi:2",
        description="mmsi:1 and mmsi:2 separated after 15 min",
    )  # fmt: skip
    assert alert_lines([met], "t", 80, headlines=True)[4] == (
        "  Encounter at sea: mmsi:1 and mmsi:2 separated after 15 min"
    )  # the vessels once, not twice


def test_the_list_puts_the_most_severe_open_alerts_first_then_the_resolved() -> None:
    order = [a["id"].split(":")[0] for a in ranked_alerts(ALERTS)]
    assert order == ["surge", "vessel_of_interest", "encounter", "ais_gap", "mass_attempt"]


def test_status_shows_acked_silenced_and_resolved_in_one_word() -> None:
    ack = {"by": "local:alice", "at": "2026-11-23T03:05:00+00:00", "note": ""}
    silence = {
        "id": "s-0123456789ab",
        "until": "2026-11-23T09:00:00+00:00",
        "created_by": "bob",
        "reason": "r",
    }
    shown = [
        alert("surge:A:1", AlertKind.SURGE, Impact.HIGH, "A", acks=[ack]),
        alert("surge:B:1", AlertKind.SURGE, Impact.HIGH, "B", silenced_by=silence),
        alert("surge:C:1", AlertKind.SURGE, Impact.HIGH, "C", status="resolved", stale=True),
    ]
    rows = alert_lines(shown, "t", 80)[3::2]
    assert [row.split()[1] for row in rows] == ["acked", "silenced", "resolved"]


def test_hostile_text_in_a_reason_is_shown_escaped_not_run() -> None:
    lines = alert_lines(
        [alert("surge:X:1", AlertKind.SURGE, Impact.LOW, "X", description="\x1b[2Jwiped\nnext")], "t", 80
    )
    assert "\x1b" not in "".join(lines) and "\\x1b[2Jwiped next" in lines[4]


def test_no_alerts_says_so() -> None:
    assert alert_lines([], "alerts", 80) == ["alerts", "(no alerts yet)"]


def test_the_alert_page_has_reasons_evidence_versions_acks_and_silence_with_confidence_rounded() -> None:
    ack = {"by": "local:alice", "at": "2026-11-23T03:05:00+00:00", "note": "patrol sent"}
    silence = {
        "id": "s-0123456789ab",
        "until": "2026-11-23T09:00:00+00:00",
        "created_by": "bob",
        "reason": "drill",
    }
    versions = [
        {"version": 1, "status": "new", "impact": "high", "confidence": 0.9, "notify": True,
         "window_end": "2026-11-23T01:00:00+00:00", "sent_at": "2026-11-23T01:01:00+00:00",
         "description": "d"},
        {"version": 2, "status": "updated", "impact": "very_high", "confidence": 0.9900000095367432,
         "notify": False, "window_end": "2026-11-23T03:00:00+00:00", "sent_at": "2026-11-23T03:01:00+00:00",
         "description": "d"},
    ]  # fmt: skip
    page = alert_detail(
        {**alert("surge:ES-CEUTA-LAND:1764000000", AlertKind.SURGE, Impact.VERY_HIGH, "ES-CEUTA-LAND",
                 acks=[ack], silenced_by=silence, versions=versions),
         "confidence": 0.9900000095367432, "event_ids": ["ES-GC:1", "ES-GC:2"]}
    )  # fmt: skip
    text = "\n".join(page)
    assert page[0] == "surge:ES-CEUTA-LAND:1764000000  (version 1)"
    assert "confidence 0.99" in text and "0.9900000095367432" not in text
    assert "  - 40 reports in 24 h at ES-CEUTA-LAND, expected 3 (99% upper bound 12)" in page
    assert "  - tail probability 3.5e-09" in page
    assert "2026-11-22 21:00:00 to 2026-11-23 03:00:00 UTC (event time)" in text
    assert "reports (2): ES-GC:1, ES-GC:2" in text
    assert any(line.startswith("  v2  updated") and "(did not notify)" in line for line in page)
    assert "local:alice at 2026-11-23T03:05:00 UTC: patrol sent" in text
    assert "s-0123456789ab until 2026-11-23T09:00:00 UTC, by bob: drill" in text
    assert "acknowledged; silenced" in text


def test_silences_list_one_line_each() -> None:
    silence = {"id": "s-0123456789ab", "until": "2026-11-23T09:00:00+00:00", "kind": "surge", "zone_id": "",
               "created_by": "local:bob", "reason": "drill"}  # fmt: skip
    assert silence_lines([silence]) == [
        "s-0123456789ab  until 2026-11-23T09:00:00 UTC  kind=surge  by local:bob: drill"
    ]
    assert silence_lines([]) == ["(no silences)"]
