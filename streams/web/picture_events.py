"""The live picture's event stream (`GET /events`, Server-Sent Events): one poller asks the analyst session
for the pulse (counts and newest times) every POLL_S while any page listens, and pushes it to every page
when it changes; a page then fetches what it shows again.

Bounded: at most MAX_STREAMS streams at once (a 503 past it), each ends after STREAM_S (the browser's
EventSource reconnects by itself), when its session ends, or when the worker stops; a page that does not
read its stream for SEND_S is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from schemas.errors import AnalystBusyError, QueryAbandonedError, QueryRefusedError
from streams.analyst.session import AnalystSession

POLL_S = 2.0
MAX_STREAMS = 32
STREAM_S = 600.0
KEEPALIVE_S = 15.0
SEND_S = 10.0
RETRY_MS = 2000
log = logging.getLogger(__name__)


class PulseHub:
    """The one poller and the streams it feeds."""

    def __init__(
        self, analyst: AnalystSession, poll_s: float = POLL_S, max_streams: int = MAX_STREAMS
    ) -> None:
        self.analyst = analyst
        self.poll_s = poll_s
        self.max_streams = max_streams
        self.latest: bytes | None = None
        self.digest = ""  # the latest pulse's short name: the SSE event's id, and a refresh's `pulse`
        self._streams: set[asyncio.Queue[bytes | None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def join(self) -> asyncio.Queue[bytes | None] | None:
        """A queue of pulses for a new stream; None when MAX_STREAMS are open or the hub is closed."""
        if self.closed or len(self._streams) >= self.max_streams:
            return None
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        self._streams.add(queue)
        self._loop = asyncio.get_running_loop()
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        return queue

    def leave(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._streams.discard(queue)

    def recheck(self) -> None:
        """Wake every stream to check its session again (sessions were revoked); safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for queue in list(self._streams):
            if queue.empty():  # a pending pulse wakes it anyway, and must not be lost
                queue.put_nowait(b"")

    async def close(self) -> None:
        """End every stream (the worker stops)."""
        self.closed = True
        for queue in list(self._streams):
            _offer(queue, None)
        if self._poller is not None:
            self._poller.cancel()

    async def _poll(self) -> None:
        while self._streams and not self.closed:
            try:
                async with self.analyst.slot():
                    pulse = await self.analyst.answer(self.analyst.pulse)
            except (AnalystBusyError, QueryRefusedError, QueryAbandonedError) as error:
                log.info("the picture's pulse skipped a round: %s", error)
            else:
                if pulse != self.latest:
                    self.latest, self.digest = pulse, pulse_digest(pulse)
                    for queue in list(self._streams):
                        _offer(queue, pulse)
            await asyncio.sleep(self.poll_s)


def pulse_digest(pulse: bytes) -> str:
    return hashlib.sha256(pulse).hexdigest()[:16]


def pulse_event(pulse: bytes) -> bytes:
    return b"id: " + pulse_digest(pulse).encode() + b"\nevent: pulse\ndata: " + pulse + b"\n\n"


@dataclass
class _Shared:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    value: Any = None


class PulseAnswers:
    """One answer per pulse for the same question: every open page refreshes on each pulse (100 alerts a
    minute change it every POLL_S), and pages asking the same thing for the same pulse share one query.

    Only a refresh the pulse caused names it; an answer made after the pulse was seen holds at least what
    the pulse says, so it is as fresh for every page that saw that pulse. A new pulse drops the old answers.
    Called in the analyst session's threads."""

    def __init__(self, max_answers: int = 16) -> None:
        self.max_answers = max_answers
        self._lock = threading.Lock()
        self._pulse = ""
        self._answers: dict[str, _Shared] = {}
        self.made = 0  # queries run, for the tests and the benchmark

    def shared(self, pulse: str, key: str, call: Callable[[], Any]) -> Callable[[], Any]:
        """`call`, run once for (pulse, key) while the pulse is the newest; the others wait for its answer."""

        def run() -> Any:
            with self._lock:
                if pulse != self._pulse:
                    self._pulse, self._answers = pulse, {}
                entry = self._answers.get(key)
                if entry is None:
                    if len(self._answers) >= self.max_answers:
                        self._answers.pop(next(iter(self._answers)))
                    entry = self._answers[key] = _Shared()
            with entry.lock:
                if not entry.done:  # the first, or the one after a failed first: ask
                    entry.value = call()
                    entry.done = True
                    self.made += 1
                return entry.value

        return run


def _offer(queue: asyncio.Queue[bytes | None], item: bytes | None) -> None:
    """Only the newest pulse matters: an unread one is replaced."""
    with contextlib.suppress(asyncio.QueueEmpty):
        queue.get_nowait()
    queue.put_nowait(item)


async def stream_pulses(
    hub: PulseHub, request: web.Request, still_in: Callable[[], bool]
) -> web.StreamResponse:
    """The event stream of one page: the latest pulse at once, then each change, keep-alive comments
    between."""
    queue = hub.join()
    if queue is None:
        return web.json_response(
            {"error": f"{hub.max_streams} picture streams are open; try again"}, status=503,
            headers={"Retry-After": "5"},
        )  # fmt: skip
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
    })  # fmt: skip
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + STREAM_S
    try:
        async with asyncio.timeout(SEND_S):
            await response.prepare(request)
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            if hub.latest is not None:
                await response.write(pulse_event(hub.latest))
        while loop.time() < ends_at and still_in():
            try:
                pulse = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                pulse = b""
            if pulse is None or not still_in():  # the worker stops, or the session ended
                break
            async with asyncio.timeout(SEND_S):
                await response.write(pulse_event(pulse) if pulse else b": keep-alive\n\n")
    except (TimeoutError, ConnectionError):
        if request.transport is not None:
            request.transport.abort()
    finally:
        hub.leave(queue)
    return response
