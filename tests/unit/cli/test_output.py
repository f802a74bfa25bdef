"""The alert list and the alert page as read: 80 columns, ids whole, reasons, most severe first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.cells import cell_len

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.cli.output import alert_detail, alert_lines, ranked_alerts, silence_lines

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
            headline=f"{kind.value} alert",
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
