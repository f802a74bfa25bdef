"""Worker HTTP API: who may ask. A bearer token and its role, the worker's own Host and Origin,
documented content types; and the audit of who asked what.

Even on loopback: any web page the operator opens can send requests to
127.0.0.1, so a request needs the token (a browser cannot add it to a simple
cross-site request), a Host naming this worker (DNS rebinding), no foreign
Origin, and only the content type its endpoint documents (so no `text/plain`
form posts).
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from schemas.codec import encode_obj
from streams.web.picture_sessions import CSRF_HEADER, SESSION_COOKIE, PictureSessions, csrf_matches
from streams.web.tokens import ANONYMOUS, Caller, Callers

audit = logging.getLogger("borderwatch.audit")
AUDIT_BODY_CHARS = 2000

# The live picture's page, its sign-in and its static files are open; what they show is not.
OPEN_PATHS = frozenset({"/health", "/", "/signin", STATIC_PREFIX := "/static/"})
# endpoint -> {method: content type of its body, or None for no body}
JSON = frozenset({"application/json"})
FORM = frozenset({"application/x-www-form-urlencoded"})
ENDPOINTS: Mapping[str, Mapping[str, frozenset[str] | None]] = {
    "/health": {"GET": None},
    "/status": {"GET": None},
    "/metrics": {"GET": None},
    "/counts": {"GET": None},
    "/alerts": {"GET": None},
    "/alerts/{id}/ack": {"POST": JSON},
    "/silences": {"GET": None, "POST": JSON},
    "/sql": {"POST": JSON},
    "/erase": {"POST": JSON},
    "/reload": {"POST": JSON},
    "/reports": {"POST": JSON | {"application/x-ndjson"}},
    # The live picture (streams/web/picture.py).
    "/": {"GET": None},
    "/signin": {"POST": FORM},
    "/signout": {"POST": None},
    STATIC_PREFIX: {"GET": None},
    "/picture/me": {"GET": None},
    "/picture/map": {"GET": None},
    "/picture/situation": {"GET": None},
    "/picture/alert": {"GET": None},
    "/picture/cap": {"GET": None},
    "/picture/health": {"GET": None},
    "/picture/code": {"POST": JSON},
    "/events": {"GET": None},
}
# An alert id needs no quoting (streams/detect/grouping.py alert_id).
_ACK_PATH = re.compile(r"/alerts/[A-Za-z0-9._:+-]{1,300}/ack")


def endpoint_of(path: str) -> str | None:
    """The endpoint a request path names (`/alerts/{id}/ack` for every alert id, the static files'
    prefix for each of them), or None."""
    if path in ENDPOINTS:
        return path
    if path.startswith(STATIC_PREFIX):
        return STATIC_PREFIX
    return "/alerts/{id}/ack" if _ACK_PATH.fullmatch(path) else None


@dataclass(frozen=True)
class Denied:
    """An HTTP refusal: status and a sentence."""

    status: int
    reason: str


@dataclass(frozen=True)
class ApiAccess:
    """Who may call the worker's API, and the TLS it serves it with (None: plain HTTP)."""

    callers: Callers
    tls: ssl.SSLContext | None = None
    sessions: PictureSessions = field(default_factory=PictureSessions)  # the live picture's browsers


def local_hosts(port: int, names: Sequence[str] = ()) -> frozenset[str]:
    """The Host values that name this worker at `port`: loopback's, and the names it is reached by."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"} | {
        f"{name.lower()}:{port}" for name in names
    })  # fmt: skip


def caller_of(headers: Mapping[str, str], callers: Callers) -> Caller | None:
    """Who the request's bearer token names, if anyone."""
    scheme, _, given = headers.get("Authorization", "").partition(" ")
    return callers.of(given.strip()) if scheme.lower() == "bearer" and given.strip() else None


def check_request(
    method: str,
    path: str,
    headers: Mapping[str, str],
    caller: Caller | None,
    hosts: frozenset[str],
    csrf_ok: bool = True,
) -> Denied | None:
    """None when the request, from `caller` (its token's, see `caller_of`, or its picture session's), may
    reach its endpoint; else the refusal. `csrf_ok` is False for a session's POST without its CSRF token."""
    host = headers.get("Host", "")
    if host.lower() not in hosts:
        return Denied(421, f"Host {host!r} is not this worker")
    origin = headers.get("Origin")
    if origin is not None and origin.lower().removeprefix("http://").removeprefix("https://") not in hosts:
        return Denied(403, f"Origin {origin!r} is not this worker")
    endpoint = endpoint_of(path)
    if endpoint is None:
        return Denied(404, f"no endpoint {path!r}")
    methods = ENDPOINTS[endpoint]
    if method not in methods:
        return Denied(405, f"{path} takes {' or '.join(methods)}, not {method}")
    content_types = methods[method]
    if endpoint not in OPEN_PATHS:
        if caller is None:
            return Denied(401, "a bearer token is required: Authorization: Bearer <token from the data dir>")
        if not caller.may(endpoint):
            return Denied(403, f"{caller.describe()} may not use {path}")
        if not csrf_ok:
            return Denied(403, f"a signed-in page's POST needs its {CSRF_HEADER} header")
    given = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_types is not None and given not in content_types:
        return Denied(
            415, f"{path} takes Content-Type {' or '.join(sorted(content_types))}, not {given or 'none'!r}"
        )
    has_body = headers.get("Content-Length", "0") not in ("", "0") or "Transfer-Encoding" in headers
    if content_types is None and (given or has_body):
        return Denied(415, f"{path} takes no request body")
    return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def auth_middleware(
    callers: Callers, hosts: frozenset[str], sessions: PictureSessions | None = None
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """An aiohttp middleware that applies `check_request` to every request, and audits it.

    Without a bearer token, a picture session's cookie names the caller; its POSTs must then carry the
    session's CSRF token in a header (a cross-site form cannot set one)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        caller = caller_of(request.headers, callers)
        session = None
        if caller is None and sessions is not None:
            session = sessions.of(request.cookies.get(SESSION_COOKIE))
            caller = session.caller if session is not None else None
        csrf_ok = (
            session is None
            or request.method != "POST"
            or csrf_matches(session.csrf, request.headers.get(CSRF_HEADER))
        )
        denied = check_request(request.method, request.path, request.headers, caller, hosts, csrf_ok)
        request["caller"] = caller or ANONYMOUS
        request["session"] = session
        response = (
            web.json_response({"error": denied.reason}, status=denied.status)
            if denied is not None
            else await handler(request)
        )
        await _audit(request, callers, response.status)
        return response

    return guard


AUDIT_SUMMARY = "audit"
"""The request key under which a handler leaves its ids and counts for the audit line."""
# What was asked is the body; no report is in it.
BODY_AUDITED = frozenset({"/sql", "/reload", "/silences", "/alerts/{id}/ack"})


async def _audit(request: web.Request, callers: Callers, status: int) -> None:
    """One line in the audit log (logger `borderwatch.audit`): who asked what, and the answer.

    Never the token itself, never a report: `/reports` and `/erase` leave ids and
    counts under `request[AUDIT_SUMMARY]` (docs/data-protection.md). The body of
    `/sql` and `/reload` is what was asked, cut at AUDIT_BODY_CHARS; a refused
    request's body is not read."""
    caller = request.get("caller") or caller_of(request.headers, callers) or ANONYMOUS
    asked = ""
    if request.method == "POST" and status < 400 and endpoint_of(request.path) in BODY_AUDITED:
        asked = (await request.read())[:AUDIT_BODY_CHARS].decode("utf-8", errors="replace")  # read: kept
    entry: dict[str, object] = {
        "caller": caller.name, "remote": request.remote, "method": request.method, "path": request.path,
        "query": "code=(one-time)" if "code" in request.query else request.query_string[:AUDIT_BODY_CHARS],
        "body": asked, "status": status,
    }  # fmt: skip
    summary = request.get(AUDIT_SUMMARY)
    if isinstance(summary, dict):
        entry["summary"] = summary
    audit.info("%s", encode_obj(entry).decode())
