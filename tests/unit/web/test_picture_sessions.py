"""The live picture's sessions and one-time sign-in codes (streams/web/picture_sessions.py)."""

from __future__ import annotations

from streams.web.picture_sessions import CODE_TTL_S, SESSION_TTL_S, PictureSessions, csrf_matches, may_view
from streams.web.tokens import ApiRole, Caller

ANALYST = Caller("ana", frozenset({ApiRole.ANALYST}))
OPERATOR = Caller("op", frozenset({ApiRole.OPERATOR}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_code_opens_one_session_once_and_only_while_fresh() -> None:
    clock = Clock()
    sessions = PictureSessions(clock)
    code = sessions.new_code(OPERATOR)
    assert sessions.redeem(code) == OPERATOR
    assert sessions.redeem(code) is None  # spent
    late = sessions.new_code(OPERATOR)
    clock.now += CODE_TTL_S
    assert sessions.redeem(late) is None
    assert sessions.redeem("made-up") is None


def test_a_session_names_its_caller_until_it_ends_or_signs_out() -> None:
    clock = Clock()
    sessions = PictureSessions(clock)
    key, session = sessions.open(ANALYST)
    assert sessions.of(key) == session and not session.may_act
    assert sessions.of(None) is None and sessions.of("other") is None
    sessions.close(key)
    assert sessions.of(key) is None
    key, _ = sessions.open(OPERATOR)
    assert sessions.of(key) is not None and sessions.of(key).may_act  # type: ignore[union-attr]
    clock.now += SESSION_TTL_S
    assert sessions.of(key) is None


def test_the_csrf_token_must_match_and_centres_do_not_view() -> None:
    _, session = PictureSessions().open(ANALYST)
    assert csrf_matches(session.csrf, session.csrf)
    assert not csrf_matches(session.csrf, None) and not csrf_matches(session.csrf, session.csrf[:-1] + "x")
    centre = Caller("ES-GC", frozenset({ApiRole.CENTRE}))
    assert may_view(ANALYST) and may_view(OPERATOR) and not may_view(centre)
