"""The live picture: a web page of the situation at the borders, served by the worker at `/` on the API's
port, TLS and roles (docs/picture.md).

The page, its script, its style and the vendored Leaflet come from streams/web/static (shipped in the
package); the base map from the catalogue (geo/basemap.py); its data from the caged analyst session
(streams/analyst/picture.py). No request leaves the worker: the Content-Security-Policy allows this origin
only, and no inline script or style.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from importlib import resources
from typing import Any

import faust
from aiohttp import web as aioweb
from faust.web import Request, Response, View

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from schemas.cap import render_cap
from schemas.codec import decode_obj, encode_obj
from streams.analyst.counts import parse_duration_s
from streams.analyst.picture import AlertFilter, Window
from streams.analyst.session import AnalystSession
from streams.web.picture_events import PulseAnswers, PulseHub, stream_pulses
from streams.web.picture_sessions import (
    CODE_TTL_S,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL_S,
    PictureSession,
    PictureSessions,
    csrf_matches,
    may_view,
)
from streams.web.tokens import Callers
from streams.web.views import analyst_answer

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes a form post's Origin "null"
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".json": "application/json", ".png": "image/png",
    ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8",
}  # fmt: skip
DEFAULT_SPAN = "24h"


def static_files() -> dict[str, bytes]:
    """Every file under streams/web/static, by its path there ('vendor/leaflet/leaflet.js')."""
    files: dict[str, bytes] = {}

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.is_file() and not entry.name.endswith(".py"):
                files[prefix + entry.name] = entry.read_bytes()

    walk(resources.files("streams.web") / "static", "")
    return files


def sign_in_page(message: str, form_token: str, status: int) -> aioweb.Response:
    """The sign-in form, with its own CSRF token in a hidden field and a cookie (double submit)."""
    body = SIGN_IN.format(
        message=f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "",
        form_token=html.escape(form_token),
    )
    return aioweb.Response(text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS)


SIGN_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>borderwatch: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/picture.css"></head>
<body class="signin"><main>
<h1>borderwatch: the live picture</h1>
{message}
<form method="post" action="/signin">
<label for="token">API token (analyst or operator), or open the link of <code>borderwatch ui</code></label>
<input id="token" name="token" type="password" autocomplete="off" required>
<input type="hidden" name="form_token" value="{form_token}">
<button type="submit">Sign in</button>
</form></main></body></html>
"""


@dataclass
class Picture:
    """What the picture's views need from the worker."""

    analyst: AnalystSession
    sessions: PictureSessions
    callers: Callers
    base_map: Callable[[], dict[str, Any]]
    cap_sender: str
    secure: bool  # served over TLS: cookies are Secure
    hub: PulseHub = field(init=False)
    answers: PulseAnswers = field(init=False, default_factory=PulseAnswers)

    def __post_init__(self) -> None:
        self.hub = PulseHub(self.analyst)
        self.sessions.on_revoke.append(self.hub.recheck)

    @cached_property
    def files(self) -> dict[str, bytes]:
        return static_files()

    @cached_property
    def map_bytes(self) -> bytes:
        return encode_obj(self.base_map())

    def open_session(self, request_caller: Any) -> aioweb.Response:
        key, _ = self.sessions.open(request_caller)
        response = aioweb.HTTPSeeOther("/", headers=SECURITY_HEADERS)
        response.set_cookie(
            SESSION_COOKIE, key, httponly=True, samesite="Strict", secure=self.secure, path="/",
            max_age=int(SESSION_TTL_S),
        )  # fmt: skip
        response.del_cookie(PRE_SESSION_COOKIE, path="/")
        return response

    def sign_in_form(self, message: str = "", status: int = 200) -> aioweb.Response:
        token = secrets.token_urlsafe(24)
        response = sign_in_page(message, token, status)
        response.set_cookie(
            PRE_SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=self.secure, path="/",
            max_age=int(CODE_TTL_S),
        )  # fmt: skip
        return response


def add_picture_views(app: faust.App, picture: Picture) -> None:
    """The page, its sign-in and sign-out, its static files, its JSON and its event stream."""
    add_page_views(app, picture)
    add_data_views(app, picture)


def add_page_views(app: faust.App, picture: Picture) -> None:
    """The page and its static files, signing in and out, and one-time sign-in codes."""

    @app.page("/")
    async def page(web: View, request: Request) -> Response:
        code = request.query.get("code")
        if code is not None:
            caller = picture.sessions.redeem(code)
            if caller is None:
                return picture.sign_in_form(
                    "This sign-in link was used or has expired: ask for a new one.", 401
                )  # type: ignore[return-value]
            return picture.open_session(caller)  # type: ignore[return-value]
        if request.get("session") is None:  # type: ignore[attr-defined]
            return picture.sign_in_form()  # type: ignore[return-value]
        body = picture.files["index.html"]
        return aioweb.Response(body=body, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS)  # type: ignore[return-value]

    @app.page("/signin")
    class SignIn(View):
        async def post(self, request: Request) -> Response:
            form = await request.post()
            expected = request.cookies.get(PRE_SESSION_COOKIE, "")
            if not expected or not csrf_matches(expected, str(form.get("form_token", ""))):
                return picture.sign_in_form("The form had expired: sign in again.", 403)  # type: ignore[return-value]
            caller = picture.callers.of(str(form.get("token", "")).strip())
            if caller is None:
                return picture.sign_in_form("That token is not valid.", 401)  # type: ignore[return-value]
            if not may_view(caller):
                return picture.sign_in_form(f"{caller.describe()} may not see the picture.", 403)  # type: ignore[return-value]
            return picture.open_session(caller)  # type: ignore[return-value]

    @app.page("/signout")
    class SignOut(View):
        async def post(self, request: Request) -> Response:
            picture.sessions.close(request.cookies.get(SESSION_COOKIE))
            response = self.json({"signed_out": True})
            response.del_cookie(SESSION_COOKIE, path="/")  # type: ignore[attr-defined]
            return response

    @app.page("/static/{name:.+}")
    async def static(web: View, request: Request, name: str) -> Response:
        body = picture.files.get(name)
        if body is None:
            return web.json({"error": f"no file {name!r}"}, status=404)
        suffix = name[name.rfind(".") :]
        headers = {
            **SECURITY_HEADERS,
            "Cache-Control": "no-cache",
            "Content-Type": CONTENT_TYPES.get(suffix, "application/octet-stream"),
        }
        return aioweb.Response(body=body, headers=headers)  # type: ignore[return-value]

    @app.page("/picture/code")
    class Code(View):
        async def post(self, request: Request) -> Response:
            if (await request.read()).strip() not in (b"", b"{}"):
                return self.json({"error": "the body must be {}"}, status=400)
            code = picture.sessions.new_code(request["caller"])  # type: ignore[index]
            return self.json({"code": code, "path": f"/?code={code}", "valid_s": int(CODE_TTL_S)})


def add_data_views(app: faust.App, picture: Picture) -> None:
    """What the page shows: the caller, the base map, the situation, an alert, its CAP, the reporting
    health, and the event stream that tells open pages to refresh."""

    @app.page("/picture/me")
    async def me(web: View, request: Request) -> Response:
        session: PictureSession | None = request.get("session")  # type: ignore[attr-defined]
        caller = request["caller"]  # type: ignore[index]
        return web.json({
            "name": caller.name, "roles": sorted(caller.roles), "csrf": session.csrf if session else None,
            "may_act": bool(session.may_act if session else "operator" in caller.roles),
        })  # fmt: skip

    @app.page("/picture/map")
    async def base_map(web: View, request: Request) -> Response:
        headers = {"Content-Type": "application/json", "Cache-Control": "private, max-age=3600"}
        return aioweb.Response(body=picture.map_bytes, headers=headers)  # type: ignore[return-value]

    @app.page("/picture/situation")
    async def situation(web: View, request: Request) -> Response:
        try:
            window, wanted = situation_query(request.query)
        except ValueError as error:
            return web.json({"error": str(error)}, status=400)
        analyst = picture.analyst
        call: Callable[[], Any] = lambda: analyst.situation(window, wanted)  # noqa: E731
        pulse = request.query.get("pulse", "")
        if pulse and pulse == picture.hub.digest:  # a refresh the newest pulse caused: shared by the pages
            asked = "&".join(f"{k}={v}" for k, v in sorted(request.query.items()) if k != "pulse")
            call = picture.answers.shared(pulse, asked, call)
        return await analyst_answer(analyst, web, request, call)

    @app.page("/picture/alert")
    async def alert(web: View, request: Request) -> Response:
        alert_id = request.query.get("id", "")
        if not alert_id or len(alert_id) > 512:
            return web.json({"error": "give the alert's id: /picture/alert?id=..."}, status=400)
        analyst = picture.analyst
        return await analyst_answer(
            analyst, web, request, lambda: _found(analyst.alert_detail(alert_id), alert_id)
        )

    @app.page("/picture/cap")
    async def cap(web: View, request: Request) -> Response:
        return await cap_response(picture, web, request.query.get("id", ""))

    @app.page("/picture/health")
    async def health(web: View, request: Request) -> Response:
        analyst = picture.analyst
        return await analyst_answer(analyst, web, request, analyst.reporting_health)

    @app.page("/events")
    async def events(web: View, request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        signed_in = request.get("session") is not None  # type: ignore[attr-defined]
        still_in = (lambda: picture.sessions.of(cookie) is not None) if signed_in else (lambda: True)
        return await stream_pulses(picture.hub, request, still_in)  # type: ignore[arg-type, return-value]

    app.web.web_app.on_shutdown.append(lambda _app: picture.hub.close())  # type: ignore[attr-defined]


async def cap_response(picture: Picture, web: View, alert_id: str) -> Response:
    """An alert as a CAP 1.2 document, or one line saying why not."""
    try:
        async with picture.analyst.slot():
            found = await picture.analyst.answer(
                lambda: picture.analyst.alerts(None, None, alert_id)["alerts"]
            )
    except Exception as error:  # refused, timed out or busy: one line
        return web.json({"error": str(error)}, status=503)
    rows = decode_obj(found)
    if not rows:
        return web.json({"error": f"no alert {alert_id!r}"}, status=404)
    xml = render_cap(Alert.model_validate(rows[0]), picture.cap_sender)
    return aioweb.Response(
        body=xml, headers={"Content-Type": "application/xml; charset=utf-8", **SECURITY_HEADERS}
    )  # type: ignore[return-value]


def _found(detail: dict[str, Any] | None, alert_id: str) -> dict[str, Any]:
    if detail is None:
        from schemas.errors import QueryRefusedError

        raise QueryRefusedError("not_found", f"no alert {alert_id!r}")
    return detail


def situation_query(query: Any) -> tuple[Window | int, AlertFilter]:
    """The situation's window and alert filter from the query string; ValueError naming what is wrong.

    `span=6h` (the default 24h) is the span back from the newest event; `start` and `end` (ISO 8601 with an
    offset) give a window of their own."""
    if query.get("start") or query.get("end"):
        try:
            window: Window | int = Window(
                datetime.fromisoformat(query["start"]), datetime.fromisoformat(query["end"])
            )
        except KeyError:
            raise ValueError("give both start and end, or span") from None
    else:
        window = parse_duration_s(query.get("span") or DEFAULT_SPAN)

    def pick(name: str, kind: Any) -> Any:
        value = query.get(name)
        return kind(value) if value else None

    wanted = AlertFilter(
        kind=pick("kind", AlertKind), impact=pick("impact", Impact), zone=query.get("zone") or None,
        status=pick("status", AlertStatus), offset=int(query.get("offset") or 0),
        limit=int(query.get("limit") or 50),
    )  # fmt: skip
    return window, wanted
