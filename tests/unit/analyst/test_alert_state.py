"""What an alert's stored state means now: resolved by its kind's clear time, acknowledged, silenced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.analyst.alert_state import Ack, ClearTimes, EventClock, annotate, resolved_by_time, shown_status
from streams.delivery.silences import SilenceRequest, new_silence
from streams.detect.thresholds import Thresholds

END = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
CLEAR = ClearTimes.of(Thresholds())  # 12 h clear, 72 h open at most


def alert(kind: AlertKind, status: AlertStatus = AlertStatus.NEW, open_h: float = 6) -> Alert:
    return Alert(
        id=f"{kind.value}:X:1764000000", version=2, kind=kind, status=status, impact=Impact.MEDIUM,
        confidence=0.9900000095367432, zone_id="ES-CEUTA-LAND", window_start=END - timedelta(hours=open_h),
        window_end=END, headline="h", description="d", opened_at=END, sent_at=END,
    )  # fmt: skip


def clock(interceptions_after_h: float | None, any_after_h: float | None) -> EventClock:
    def at(hours: float | None) -> float | None:
        return None if hours is None else (END + timedelta(hours=hours)).timestamp()

    return EventClock(at(interceptions_after_h), at(any_after_h))


def test_an_open_alert_resolves_once_its_kinds_clear_time_passed_on_its_clock() -> None:
    surge = alert(AlertKind.SURGE)
    assert not resolved_by_time(surge, clock(11.9, 30), CLEAR)  # a surge runs on the interceptions' clock
    assert resolved_by_time(surge, clock(12, 12), CLEAR)
    speed = alert(AlertKind.IMPLAUSIBLE_SPEED)
    assert resolved_by_time(speed, clock(None, 12), CLEAR) and not resolved_by_time(
        speed, clock(30, 11), CLEAR
    )


def test_kinds_their_detector_ends_resolve_only_at_their_time_open() -> None:
    gap = alert(AlertKind.AIS_GAP, open_h=6)
    assert not resolved_by_time(gap, clock(None, 60), CLEAR)  # open 66 h: the vessel may still be dark
    assert resolved_by_time(gap, clock(None, 66), CLEAR)  # open 72 h: the worker closes it too


def test_no_reports_or_a_resolved_alert_change_nothing() -> None:
    assert not resolved_by_time(alert(AlertKind.SURGE), clock(None, None), CLEAR)
    assert not resolved_by_time(alert(AlertKind.SURGE, AlertStatus.RESOLVED), clock(99, 99), CLEAR)


def test_annotate_adds_acks_silence_and_stale_and_the_list_shows_one_word() -> None:
    rows = [
        alert(AlertKind.SURGE).model_dump(mode="json"),
        alert(AlertKind.LOITERING).model_dump(mode="json"),
    ]
    rows[1]["id"] = "loitering:Y:1764000000"
    acks = [Ack(rows[1]["id"], "bob", END + timedelta(minutes=5), "called the patrol"),
            Ack(rows[1]["id"], "alice", END + timedelta(minutes=1))]  # fmt: skip
    request = SilenceRequest(kind=AlertKind.SURGE, until=END + timedelta(hours=1), reason="exercise")
    silence = new_silence(request, "carol", END)
    surge, loitering = annotate(rows, acks, [silence], clock(13, 13), CLEAR)
    assert (surge["status"], surge["stale"], surge["acks"]) == ("resolved", True, [])
    assert surge["silenced_by"]["id"] == silence.id
    assert (loitering["status"], loitering["stale"], loitering["silenced_by"]) == ("new", False, None)
    assert [a["by"] for a in loitering["acks"]] == ["alice", "bob"]  # in the order they came
    assert loitering["acks"][1]["note"] == "called the patrol"
    assert [shown_status(a) for a in (surge, loitering)] == ["resolved", "acked"]
    assert shown_status({**loitering, "silenced_by": surge["silenced_by"]}) == "silenced"
    assert shown_status({**loitering, "acks": []}) == "new"
