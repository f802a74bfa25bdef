"""The live picture's sign-in: browser sessions (a cookie naming a caller, with its CSRF token) and one-time
sign-in codes (`borderwatch ui`), kept in the worker's memory.

A session is made from a token posted once in the sign-in form, or from a one-time code: a random code
that names the caller who asked for it, valid once and for CODE_TTL_S. Sessions end after SESSION_TTL_S,
on sign-out, when the worker stops, or as soon as the token it was opened with is no longer valid (taken out
of the tokens file, or its role changed: `still_valid`, checked on every use and swept by `revoke` when the
tokens file is reloaded); past MAX_SESSIONS the oldest goes.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.web.tokens import ApiRole, Caller

SESSION_TTL_S = 12 * 3600.0
CODE_TTL_S = 300.0
MAX_SESSIONS = 256
MAX_CODES = 64
SESSION_COOKIE = "bw_session"
PRE_SESSION_COOKIE = "bw_signin"  # the sign-in form's own CSRF token (login CSRF), before a session
CSRF_HEADER = "X-CSRF-Token"
VIEWER_ROLES = frozenset({ApiRole.ANALYST, ApiRole.OPERATOR})


@dataclass(frozen=True)
class PictureSession:
    """A signed-in browser: who, the token its POSTs must carry, and when it ends (monotonic seconds)."""

    caller: Caller
    csrf: str
    expires_at: float

    @property
    def may_act(self) -> bool:
        """Only an operator acts (acknowledge, silence); an analyst sees everything."""
        return ApiRole.OPERATOR in self.caller.roles


@dataclass(frozen=True)
class SignInCode:
    """A one-time code and whose session it opens."""

    caller: Caller
    expires_at: float


def may_view(caller: Caller) -> bool:
    """Analysts and operators see the picture; a centre's token does not."""
    return bool(caller.roles & VIEWER_ROLES)


class PictureSessions:
    """Sessions by their cookie value, and one-time codes."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        still_valid: Callable[[Caller], bool] = lambda caller: True,
    ) -> None:
        self._clock = clock
        self._still_valid = still_valid
        self.on_revoke: list[Callable[[], None]] = []  # called (in the reloading thread) after a sweep
        self._sessions: dict[str, PictureSession] = {}  # oldest first
        self._codes: dict[str, SignInCode] = {}

    def open(self, caller: Caller) -> tuple[str, PictureSession]:
        """A new session for `caller`: its cookie value and the session."""
        self._expire()
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(next(iter(self._sessions)))
        key = secrets.token_urlsafe(32)
        session = PictureSession(caller, secrets.token_urlsafe(32), self._clock() + SESSION_TTL_S)
        self._sessions[key] = session
        return key, session

    def of(self, key: str | None) -> PictureSession | None:
        """The live session a cookie value names, if any."""
        if not key:
            return None
        session = self._sessions.get(key)
        if session is None or session.expires_at <= self._clock() or not self._still_valid(session.caller):
            self._sessions.pop(key, None)
            return None
        return session

    def revoke(self) -> int:
        """End every session and spend every code whose caller's token is no longer valid (the tokens file
        was reloaded); the count of sessions ended. Listeners in `on_revoke` are told, to close streams."""
        ended = [key for key, session in self._sessions.items() if not self._still_valid(session.caller)]
        for key in ended:
            self._sessions.pop(key, None)
        for code in [code for code, found in self._codes.items() if not self._still_valid(found.caller)]:
            self._codes.pop(code, None)
        for listener in self.on_revoke:
            listener()
        return len(ended)

    def close(self, key: str | None) -> None:
        """End a session (sign-out)."""
        if key:
            self._sessions.pop(key, None)

    def new_code(self, caller: Caller) -> str:
        """A one-time sign-in code for `caller`, valid for CODE_TTL_S."""
        self._expire()
        while len(self._codes) >= MAX_CODES:
            self._codes.pop(next(iter(self._codes)))
        code = secrets.token_urlsafe(24)
        self._codes[code] = SignInCode(caller, self._clock() + CODE_TTL_S)
        return code

    def redeem(self, code: str) -> Caller | None:
        """The caller of a live code, spent by this call; None for a spent, expired or unknown one."""
        found = self._codes.pop(code, None)
        if found is None or found.expires_at <= self._clock() or not self._still_valid(found.caller):
            return None
        return found.caller

    def _expire(self) -> None:
        now = self._clock()
        for store in (self._sessions, self._codes):
            for key in [k for k, v in store.items() if v.expires_at <= now]:
                del store[key]


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a request carries the session's CSRF token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
