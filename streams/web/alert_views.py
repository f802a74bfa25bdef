"""Worker HTTP API: POST /alerts/{id}/ack, POST /silences and GET /silences, for operators and duty
officers (streams/web/tokens.py); the guard in streams.web.auth checks the role and audits each request.

The caller's token names who acknowledged or silenced; the data dir's own token
(this machine's CLI) may add `"by"`, the user at the terminal.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

import faust
from faust.web import Request, Response, View
from pydantic import ValidationError

from schemas.codec import decode_obj
from schemas.problems import first_problem
from streams.delivery.silences import MAX_REASON_CHARS, SilenceRequest, new_silence
from streams.sinks.clickhouse.alert_ops import ClickHouseAlertOps
from streams.web.auth import AUDIT_SUMMARY
from streams.web.tokens import LOCAL, Caller

log = logging.getLogger(__name__)
_BY = r"^[A-Za-z0-9._@-]{1,64}$"


class BadBodyError(ValueError):
    """A request body the endpoint cannot take; its message is the answer."""


def who(caller: Caller, body: dict[str, Any]) -> str:
    """Who acts: the token's name; the data dir's token may name its user (`by`)."""
    by = body.pop("by", None)
    if by is None:
        return caller.name
    if caller is not LOCAL:
        raise BadBodyError(f'{caller.describe()} acts under its own name: leave out "by"')
    if not isinstance(by, str) or not re.fullmatch(_BY, by):
        raise BadBodyError('"by" is a user name: letters, digits and ._@- (at most 64)')
    return f"{LOCAL.name}:{by}"


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object ({} when empty)."""
    if not raw.strip():
        return {}
    try:
        body = decode_obj(raw)
    except ValueError:
        raise BadBodyError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadBodyError("the body must be a JSON object")
    return body


def add_alert_ops_views(app: faust.App, ops: ClickHouseAlertOps) -> None:
    """The acknowledgement and silence endpoints, on the worker that holds ClickHouse."""

    @app.page("/alerts/{alert_id}/ack")
    class AckAlert(View):
        async def post(self, request: Request, alert_id: str) -> Response:
            caller: Caller = request["caller"]  # type: ignore[index]  # set by the guard
            try:
                body = json_object(await request.read())
                by = who(caller, body)
                note = body.pop("note", "")
                if body or not isinstance(note, str) or len(note) > MAX_REASON_CHARS:
                    raise BadBodyError(
                        f'the body is {{"note": "at most {MAX_REASON_CHARS} characters"}} or empty'
                    )
            except BadBodyError as error:
                return self.json({"error": str(error)}, status=400)
            ack = await asyncio.to_thread(ops.ack, alert_id, by, note, datetime.now(UTC))
            request[AUDIT_SUMMARY] = {"alert_id": alert_id, "by": by, "acked": ack is not None}  # type: ignore[index]
            if ack is None:
                return self.json({"error": f"no alert {alert_id!r}"}, status=404)
            log.info("alert %s acknowledged by %s", alert_id, by)
            return self.json({"alert_id": alert_id, "ack": ack.as_json()})

    @app.page("/silences")
    class Silences(View):
        async def get(self, request: Request) -> Response:
            ended_too = request.query.get("all", "") in ("1", "true")
            silences = await asyncio.to_thread(ops.silences, ended_too)
            return self.json([s.model_dump(mode="json") for s in silences])

        async def post(self, request: Request) -> Response:
            caller: Caller = request["caller"]  # type: ignore[index]  # set by the guard
            now = datetime.now(UTC)
            try:
                body = json_object(await request.read())
                by = who(caller, body)
                wanted = SilenceRequest.model_validate(body)
                if wanted.until <= now:
                    raise BadBodyError(f"until {wanted.until.isoformat()} has passed already")
            except BadBodyError as error:
                return self.json({"error": str(error)}, status=400)
            except ValidationError as error:
                where, message = first_problem(error)
                return self.json({"error": f"{where}: {message}" if where else message}, status=400)
            silence = await asyncio.to_thread(ops.silence, new_silence(wanted, by, now))
            request[AUDIT_SUMMARY] = {"silence": silence.id, "by": by}  # type: ignore[index]
            log.warning("silence %s by %s: %s", silence.id, by, silence.reason)
            return self.json(silence.model_dump(mode="json"), status=201)
