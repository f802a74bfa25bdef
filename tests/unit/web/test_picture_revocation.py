"""A browser session ends with the token it was opened with (streams/web/picture_sessions.py, tokens.py)."""

from __future__ import annotations

from streams.web.picture_sessions import PictureSessions
from streams.web.tokens import LOCAL, ApiRole, Callers, NamedToken, hash_token

ANALYST, OPERATOR, LOCAL_TOKEN = "analyst-secret", "operator-secret", "local-secret"


def named(name: str, role: ApiRole, secret: str) -> NamedToken:
    return NamedToken(name=name, role=role, sha256=hash_token(secret))


def both() -> list[NamedToken]:
    return [named("ana", ApiRole.ANALYST, ANALYST), named("op", ApiRole.OPERATOR, OPERATOR)]


def signed_in(callers: Callers, sessions: PictureSessions, token: str) -> str:
    caller = callers.of(token)
    assert caller is not None
    return sessions.open(caller)[0]


def test_a_removed_token_ends_its_sessions_and_codes_and_no_other() -> None:
    callers = Callers(LOCAL_TOKEN, both())
    sessions = PictureSessions(still_valid=callers.still)
    told: list[str] = []
    sessions.on_revoke.append(lambda: told.append("revoked"))
    ana, op, local = (signed_in(callers, sessions, t) for t in (ANALYST, OPERATOR, LOCAL_TOKEN))
    code = sessions.new_code(callers.of(ANALYST))  # type: ignore[arg-type]
    callers.reload([named("op", ApiRole.OPERATOR, OPERATOR)])
    assert sessions.of(ana) is None  # at once, even before the sweep
    assert sessions.revoke() == 0  # already gone by use
    assert told == ["revoked"]
    assert sessions.redeem(code) is None
    assert sessions.of(op) is not None and sessions.of(local) is not None
    assert sessions.of(local).caller == LOCAL  # type: ignore[union-attr]


def test_the_sweep_ends_sessions_not_used_since_the_reload() -> None:
    callers = Callers(LOCAL_TOKEN, both())
    sessions = PictureSessions(still_valid=callers.still)
    ana, op = signed_in(callers, sessions, ANALYST), signed_in(callers, sessions, OPERATOR)
    callers.reload([named("ana", ApiRole.ANALYST, ANALYST)])
    assert sessions.revoke() == 1
    assert sessions.of(op) is None and sessions.of(ana) is not None


def test_a_changed_role_or_a_rotated_secret_ends_the_session() -> None:
    callers = Callers(LOCAL_TOKEN, both())
    sessions = PictureSessions(still_valid=callers.still)
    ana, op = signed_in(callers, sessions, ANALYST), signed_in(callers, sessions, OPERATOR)
    # "ana" becomes an operator with the same secret; "op" keeps its name and role with a new secret
    callers.reload([named("ana", ApiRole.OPERATOR, ANALYST), named("op", ApiRole.OPERATOR, "rotated")])
    assert sessions.revoke() == 2
    assert sessions.of(ana) is None and sessions.of(op) is None


def test_an_unchanged_file_reloaded_keeps_every_session() -> None:
    callers = Callers(LOCAL_TOKEN, both())
    sessions = PictureSessions(still_valid=callers.still)
    keys = [signed_in(callers, sessions, t) for t in (ANALYST, OPERATOR)]
    callers.reload(both())
    assert sessions.revoke() == 0
    assert all(sessions.of(key) is not None for key in keys)
