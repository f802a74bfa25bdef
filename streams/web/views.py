"""Worker HTTP API: /health, /status, /counts, /alerts, /sql and /erase (the guard in streams.web.auth
runs first).

With chdb the worker is the only process that may open ClickHouse, so the
analysts' reads come here; they run in the caged analyst session, never in
ingest's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.web import Request, Response, View
from pydantic import ValidationError

from schemas.codec import decode_obj
from schemas.errors import AnalystBusyError, QueryAbandonedError, QueryRefusedError
from schemas.problems import first_problem
from schemas.rejection import RejectReason
from schemas.validate import duplicate_key
from streams.analyst.answers import send_answer
from streams.analyst.counts import CountsAsked, GroupBy
from streams.analyst.session import AnalystSession
from streams.analyst.window import TimeWindow
from streams.sinks.clickhouse.erase import ErasureRequest
from streams.web.auth import AUDIT_SUMMARY
from streams.web.tokens import Caller

RETRY_AFTER_S = "2"
# Read once at start: the consumers and rules they set up are not swapped under a running worker.
RESTART_NEEDED_FOR = ["subscriptions", "transition_rules", "geofences", "the other settings"]
log = logging.getLogger(__name__)


def add_health_views(
    app: faust.App, status: Callable[[bool], dict[str, Any]], health: Callable[[], dict[str, str]]
) -> None:
    """/health and /status, on every worker. /status's totals come from memory; `/status?exact=1`
    counts them in ClickHouse. `status` runs in a thread (its first call, and an exact one, count rows)."""

    @app.page("/health")
    async def health_view(web: View, request: Request) -> Response:
        parts = health()
        healthy = all(state == "ok" for state in parts.values())
        return web.json({"healthy": healthy, **parts}, status=200 if healthy else 503)

    @app.page("/status")
    async def status_view(web: View, request: Request) -> Response:
        exact = request.query.get("exact", "") in ("1", "true")
        return web.json({**await asyncio.to_thread(status, exact), "health": health()})


METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format


def add_metrics_view(app: faust.App, exposition: Callable[[], bytes]) -> None:
    """/metrics: the worker's metrics in Prometheus' text format (streams/worker/metrics.py)."""

    @app.page("/metrics")
    async def metrics_view(web: View, request: Request) -> Response:
        return web.bytes(exposition(), headers={"Content-Type": METRICS_CONTENT_TYPE})


ReceiveReports = Callable[[Caller, str, bytes, str], Awaitable[tuple[int, dict[str, Any], dict[str, str]]]]


def add_ingest_view(app: faust.App, receive: ReceiveReports) -> None:
    """POST /reports[?kind=interception|vessel]: a centre's own reports (streams/sources/http.py)."""

    @app.page("/reports")
    class Reports(View):
        async def post(self, request: Request) -> Response:
            caller: Caller = request["caller"]  # type: ignore[index]  # set by the guard (streams/web/auth.py)
            raw = await request.read()
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            status, body, headers = await receive(caller, request.query.get("kind", ""), raw, content_type)
            request[AUDIT_SUMMARY] = reports_summary(body, len(raw))  # type: ignore[index]
            return self.json(body, status=status, headers=headers)


def reports_summary(answer: dict[str, Any], size: int) -> dict[str, Any]:
    """What the audit log keeps of a `/reports` request: counts, never a report."""
    results = answer.get("results") or []
    summary: dict[str, Any] = {"bytes": size, "reports": len(results)}
    for result in results:
        summary[result["result"]] = summary.get(result["result"], 0) + 1
    return summary


def add_operator_views(app: faust.App, erase: Callable[[ErasureRequest], dict[str, int] | None]) -> None:
    """/erase, on the worker that holds ClickHouse: one report and what was derived from it."""

    @app.page("/erase")
    class Erase(View):
        async def post(self, request: Request) -> Response:
            raw = await request.read()
            repeated = duplicate_key(raw)
            if repeated is not None and repeated.reason is RejectReason.DUPLICATE_KEY:
                return self.json({"error": f"the body gives {repeated.field!r} more than once"}, status=400)
            try:
                wanted = ErasureRequest.model_validate_json(raw)
            except ValidationError as error:
                where = first_problem(error)[0] or "body"
                return self.json(
                    {"error": f'the body must be JSON {{"authority": ..., "report_id": ...}} ({where})'},
                    status=400,
                )
            erased = await asyncio.to_thread(erase, wanted)
            if erased is None:
                detail = (
                    f"no report {wanted.authority}:{wanted.report_id} was ever stored: nothing erased;"
                    ' to keep it from being stored when it comes, ask again with "tombstone": true'
                )
                request[AUDIT_SUMMARY] = {  # type: ignore[index]
                    "authority": wanted.authority, "report_id": wanted.report_id, "erased": None,
                }  # fmt: skip
                return self.json({"error": detail}, status=404)
            log.warning("erased %s:%s on request: %s", wanted.authority, wanted.report_id, erased)
            request[AUDIT_SUMMARY] = {  # type: ignore[index]
                "authority": wanted.authority, "report_id": wanted.report_id, "erased": erased,
            }  # fmt: skip
            return self.json({"erased": erased})


def add_reload_view(app: faust.App, reload: Callable[[], dict[str, object]]) -> None:
    """POST /reload ({}): read the tokens file and the watch list again, without a restart."""

    @app.page("/reload")
    class Reload(View):
        async def post(self, request: Request) -> Response:
            if (await request.read()).strip() not in (b"", b"{}"):
                return self.json({"error": "the body must be {}"}, status=400)
            try:
                reloaded = await asyncio.to_thread(reload)
            except ValueError as error:
                return self.json({"error": f"{error}; the tokens in use are kept"}, status=400)
            log.warning("reloaded on request: %s", reloaded)
            return self.json({"reloaded": reloaded, "restart_needed_for": RESTART_NEEDED_FOR})


Answered = Callable[[str, str | None], None]
"""Told of each analyst request: its endpoint, and the refusal code when it was refused."""


def _not_told(endpoint: str, code: str | None) -> None:
    pass


async def analyst_answer(
    analyst: AnalystSession,
    web: View,
    request: Request,
    call: Callable[[], Any],
    answered: Answered = _not_told,
) -> Response:
    """Run `call` in the analyst session and send its JSON answer; a refusal, a timeout or a full queue
    becomes its HTTP status, and `answered` is told of it."""
    # The slot is held until the answer is sent: a slow reader's answer counts against the slots.
    endpoint = request.url.path
    try:
        async with analyst.slot():
            body = await analyst.answer(call)
            answer = await send_answer(request, body, analyst.limits.answer_send_s)  # type: ignore[arg-type]
            answered(endpoint, None)
            return answer  # type: ignore[return-value]
    except QueryRefusedError as error:
        answered(endpoint, error.code)
        status = {"answer_too_large": 422, "not_found": 404}.get(error.code, 400)
        return web.json({"error": str(error), "code": error.code}, status=status)
    except QueryAbandonedError as error:
        answered(endpoint, "timeout")
        return web.json({"error": str(error), "code": "timeout"}, status=504)
    except AnalystBusyError as error:
        answered(endpoint, "busy")
        return web.json({"error": str(error)}, status=503, headers={"Retry-After": RETRY_AFTER_S})


def _part(answer: dict[str, Any], name: str, whole: bool) -> Any:
    """The whole answer with its window, or only its rows (the API's answer before windows)."""
    return answer if whole else answer[name]


def add_analyst_views(app: faust.App, analyst: AnalystSession, answered: Answered = _not_told) -> None:
    """/counts, /alerts and /sql, on the worker that holds ClickHouse.

    /counts and /alerts take `since` and `until` (an ISO time or a duration back from the newest event
    time); they answer a list of rows, or with `window=1` {"window": {start, end, newest}, "rows" or
    "alerts": [...]}, which says which window was used.
    """

    @app.page("/counts")
    async def counts(web: View, request: Request) -> Response:
        query = request.query
        try:
            by = GroupBy(query.get("by", GroupBy.CROSSING.value))
            window = TimeWindow.parse(query.get("since") or None, query.get("until") or None)
        except ValueError as error:
            return web.json({"error": str(error)}, status=400)
        asked = CountsAsked(by, window, query.get("route") or None, query.get("crossing") or None)
        whole = query.get("window") == "1"
        return await analyst_answer(
            analyst, web, request, lambda: _part(analyst.counts(asked), "rows", whole), answered
        )

    @app.page("/alerts")
    async def alerts(web: View, request: Request) -> Response:
        query = request.query
        try:
            window = TimeWindow.parse(query.get("since") or None, query.get("until") or None)
        except ValueError as error:
            return web.json({"error": str(error)}, status=400)
        kind, alert_id = query.get("kind") or None, query.get("id") or None
        whole = query.get("window") == "1"
        return await analyst_answer(
            analyst, web, request, lambda: _part(analyst.alerts(window, kind, alert_id), "alerts", whole),
            answered,
        )  # fmt: skip

    @app.page("/sql")
    class Sql(View):
        async def post(self, request: Request) -> Response:
            try:
                body = decode_obj(await request.read())
                sql = body["sql"]
                if not isinstance(sql, str) or set(body) != {"sql"}:
                    raise ValueError
            except Exception:
                return self.json({"error": 'the body must be JSON {"sql": "SELECT ..."}'}, status=400)
            return await analyst_answer(analyst, self, request, lambda: analyst.sql(sql), answered)
