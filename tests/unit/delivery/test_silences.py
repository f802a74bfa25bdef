"""Silences: which alert states they keep from delivery, what a request must name, and `--until`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.analyst.counts import parse_duration_s
from streams.delivery.silences import Silence, SilenceRequest, new_silence, silenced_by, until_of

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def alert(kind: AlertKind = AlertKind.SURGE, zone: str = "ES-CEUTA-LAND", sent_at: datetime = NOW) -> Alert:
    return Alert(
        id=f"{kind.value}:{zone}:1764000000", version=1, kind=kind, status=AlertStatus.NEW,
        impact=Impact.HIGH, confidence=0.9, zone_id=zone, window_start=NOW - timedelta(hours=6),
        window_end=NOW, headline="h", description="d", opened_at=sent_at, sent_at=sent_at,
    )  # fmt: skip


def silence(kind: AlertKind | None = None, zone: str = "", hours: float = 4) -> Silence:
    request = SilenceRequest(kind=kind, zone_id=zone, until=NOW + timedelta(hours=hours), reason="drill")
    return new_silence(request, "alice", NOW - timedelta(minutes=1))


def test_a_silence_matches_its_kind_and_zone_and_states_sent_before_its_end() -> None:
    by_kind, by_zone = silence(kind=AlertKind.SURGE), silence(zone="ES-CEUTA-LAND")
    both = silence(kind=AlertKind.SURGE, zone="ES-MELILLA-FENCE")
    assert by_kind.matches(alert()) and by_zone.matches(alert())
    assert not by_kind.matches(alert(kind=AlertKind.MASS_ATTEMPT))
    assert not by_zone.matches(alert(zone="ES-MELILLA-FENCE", kind=AlertKind.MASS_ATTEMPT))
    assert not both.matches(alert()) and both.matches(alert(zone="ES-MELILLA-FENCE"))
    # Published at or after `until`: delivered. Published before it, however long before: silenced.
    assert not by_kind.matches(alert(sent_at=NOW + timedelta(hours=4)))
    assert by_kind.matches(alert(sent_at=NOW - timedelta(days=3)))


def test_silenced_by_names_the_longest_matching_silence_or_none() -> None:
    short, long_, other = (
        silence(kind=AlertKind.SURGE, hours=1),
        silence(zone="ES-CEUTA-LAND", hours=9),
        silence(kind=AlertKind.AIS_GAP, hours=20),
    )
    assert silenced_by(alert(), [short, long_, other]) == long_
    assert silenced_by(alert(), [other]) is None
    assert silenced_by(alert(), []) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": "everything"}, "names a kind, a zone or both"),
        ({"kind": "surge", "reason": ""}, "at least 1 character"),
        ({"kind": "surge", "reason": "x" * 501}, "at most 500"),
        ({"kind": "surge", "reason": "\x1b[2Jgone"}, "pattern"),
        ({"zone_id": "a zone; DROP", "reason": "r"}, "pattern"),
        ({"kind": "storm", "reason": "r"}, "surge"),
        ({"kind": "surge", "reason": "r", "extra": 1}, "Extra inputs"),
    ],
)
def test_a_silence_request_that_names_nothing_or_carries_junk_is_refused(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SilenceRequest.model_validate({"until": (NOW + timedelta(hours=1)).isoformat(), **fields})


def test_a_new_silence_has_a_fresh_id_and_says_who_made_it() -> None:
    a, b = silence(kind=AlertKind.SURGE), silence(kind=AlertKind.SURGE)
    assert a.id != b.id and a.id.startswith("s-") and a.created_by == "alice"
    assert Silence.model_validate(a.model_dump(mode="json")) == a  # what GET /silences gives reads back


def test_until_is_a_duration_from_now_or_a_time_with_its_offset() -> None:
    assert until_of("4h", NOW, parse_duration_s) == NOW + timedelta(hours=4)
    assert until_of("2026-11-24T06:00:00Z", NOW, parse_duration_s) == NOW + timedelta(days=1)
    with pytest.raises(ValueError, match="needs its offset"):
        until_of("2026-11-24T06:00:00", NOW, parse_duration_s)
    with pytest.raises(ValueError, match="neither a duration"):
        until_of("tomorrow", NOW, parse_duration_s)
