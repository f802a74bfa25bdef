"""Analyst answers: JSON built within a size cap, and sent within a time limit, so neither grows unbounded."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from schemas.codec import encode_obj
from schemas.errors import QueryRefusedError

SEND_CHUNK_BYTES = 1 << 16


def encode_within(value: Any, cap_bytes: int) -> bytes:
    """JSON of a list, or of a dict with a "rows" list last, built a row at a time: QueryRefusedError
    ("answer_too_large") as soon as it passes `cap_bytes`, before the whole answer is ever in memory."""
    if isinstance(value, list):
        head, rows, tail = b"[", value, b"]"
    elif isinstance(value, dict) and isinstance(value.get("rows"), list) and list(value)[-1] == "rows":
        rest = encode_obj({k: v for k, v in value.items() if k != "rows"})
        head, rows, tail = rest[:-1] + (b',"rows":[' if len(rest) > 2 else b'"rows":['), value["rows"], b"]}"
    else:
        head, rows, tail = encode_obj(value), [], b""
    parts = [head]
    size = len(head) + len(tail)
    for n, row in enumerate(rows):
        part = encode_obj(row)
        size += len(part) + (1 if n else 0)
        if size > cap_bytes:
            raise QueryRefusedError(
                "answer_too_large",
                f"the JSON answer is over the cap of {cap_bytes} bytes "
                "(BORDERWATCH_ANALYST__MAX_ANSWER_BYTES): ask for fewer rows or smaller values",
            )
        parts.append(b"," + part if n else part)
    parts.append(tail)
    return b"".join(parts)


async def send_answer(request: web.Request, body: bytes, within_s: float) -> web.StreamResponse:
    """Write `body` as the JSON answer; a client that does not read it within `within_s` is cut off."""
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    response.content_length = len(body)
    try:
        async with asyncio.timeout(within_s):
            await response.prepare(request)
            view = memoryview(body)
            for start in range(0, len(body), SEND_CHUNK_BYTES):
                await response.write(view[start : start + SEND_CHUNK_BYTES])
            await response.write_eof()
    except TimeoutError:
        if request.transport is not None:
            with contextlib.suppress(Exception):
                request.transport.abort()
    return response
