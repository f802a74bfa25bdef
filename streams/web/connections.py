"""Worker HTTP API: caps and read deadlines on its connections, under Faust's aiohttp server.

Faust builds its server as aiohttp's `AppRunner(web_app)` and a `TCPSite` in
faust/web/drivers/aiohttp.py (`Web.__init__`, `_new_transport_tcp`); aiohttp
gives a connection's handler no deadline for a request's headers (its
keep-alive timer is an hour) and caps no connections. Here the app's `Web` is
a subclass whose runner makes each connection a `GuardedRequestHandler`:

- a connection must send complete headers within `header_timeout_s` of
  opening or of its previous answer, and the body within `body_timeout_s`
  of the headers; else it is dropped;
- connections are capped in total and per client address: past a cap the new
  connection takes the place of the longest idle one (no request under way)
  in that scope, so nobody can crowd out a client that sends its request at
  once; when none is idle the new one gets a 503 and is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_runner import AppRunner
from aiohttp.web_server import Server
from faust.web.drivers.aiohttp import Web

from streams.web.limits import WebLimits

log = logging.getLogger(__name__)
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: 45\r\n\r\n"
    b'{"error": "too many connections; try again"}\n'
)
ACCEPT_ERROR = "socket.accept() out of system resource"


class ConnectionGuard:
    """The open connections, in total and per address, and which of them wait for a request."""

    def __init__(self, limits: WebLimits) -> None:
        self.limits = limits
        self.address_of: dict[GuardedRequestHandler, str] = {}
        self.per_address: dict[str, int] = {}
        self.idle: dict[GuardedRequestHandler, None] = {}  # oldest first
        self.refused = 0
        self.evicted = 0

    def admit(self, handler: GuardedRequestHandler, address: str) -> bool:
        """Count a new connection, evicting the longest idle one past a cap; False: refuse it."""
        at_cap = self.per_address.get(address, 0) >= self.limits.max_connections_per_address
        if at_cap and not self._evict(lambda h: self.address_of[h] == address):
            self.refused += 1
            return False
        if len(self.address_of) >= self.limits.max_connections and not self._evict(lambda h: True):
            self.refused += 1
            return False
        self.address_of[handler] = address
        self.per_address[address] = self.per_address.get(address, 0) + 1
        self.idle[handler] = None
        return True

    def _evict(self, matches: Callable[[GuardedRequestHandler], bool]) -> bool:
        victim = next((h for h in self.idle if matches(h)), None)
        if victim is None:
            return False
        self.evicted += 1
        self.release(victim)
        victim.drop()
        return True

    def busy(self, handler: GuardedRequestHandler) -> None:
        """A request is under way on this connection: it cannot be evicted."""
        self.idle.pop(handler, None)

    def waiting(self, handler: GuardedRequestHandler) -> None:
        """The connection waits for its next request."""
        if handler in self.address_of:
            self.idle[handler] = None

    def release(self, handler: GuardedRequestHandler) -> None:
        """The connection is gone (idempotent)."""
        address = self.address_of.pop(handler, None)
        self.idle.pop(handler, None)
        if address is not None:
            left = self.per_address[address] - 1
            if left:
                self.per_address[address] = left
            else:
                del self.per_address[address]


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler, admitted by the guard and dropped when its client is too slow."""

    def __init__(self, manager: Server, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._admitted = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else ""
        if not self._guard.admit(self, address):
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(BUSY_ANSWER)
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._deadline(self._guard.limits.header_timeout_s, None)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._guard.release(self)
        self._cancel_timer()
        super().connection_lost(exc)

    async def _handle_request(
        self,
        request: BaseRequest,
        start_time: float | None,
        request_handler: Callable[[BaseRequest], Awaitable[StreamResponse]],
    ) -> tuple[StreamResponse, bool]:
        # aiohttp calls this once a request's headers are in, and it returns once the answer is sent.
        self._guard.busy(self)
        self._deadline(self._guard.limits.body_timeout_s, request)
        try:
            return await super()._handle_request(request, start_time, request_handler)
        finally:
            self._guard.waiting(self)
            self._deadline(self._guard.limits.header_timeout_s, None)

    def _deadline(self, delay_s: float, request: BaseRequest | None) -> None:
        self._cancel_timer()
        self._timer = self._loop.call_later(delay_s, self._late, request)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _late(self, request: BaseRequest | None) -> None:
        self._timer = None
        if request is None:
            if self in self._guard.idle:  # still no request under way
                self.drop()
        elif not request.content.is_eof():
            self.drop()

    def drop(self) -> None:
        """Close the connection at once, whatever it was sending."""
        self._cancel_timer()
        transport = self.transport
        self.force_close()
        if isinstance(transport, asyncio.Transport):
            transport.abort()


class GuardedServer(Server):
    """aiohttp's low-level server, making guarded connection handlers."""

    def __init__(self, *args: Any, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, self.guard, loop=self._loop, **self._kwargs)


class GuardedRunner(AppRunner):
    """aiohttp's app runner, serving through a GuardedServer."""

    def __init__(self, *args: Any, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard

    async def _make_server(self) -> Server:
        plain = await super()._make_server()  # runs the app's start-up as aiohttp does
        return GuardedServer(
            plain.request_handler, request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation, guard=self.guard, **self._kwargs,
        )  # fmt: skip


class GuardedWeb(Web):
    """Faust's aiohttp web driver with the guard in place; accept errors logged once a second at most."""

    def __init__(self, app: faust.App, limits: WebLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.guard = ConnectionGuard(limits)
        self._runner = GuardedRunner(self.web_app, guard=self.guard, access_log=None)

    async def start_server(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(quiet_accept_errors(loop.get_exception_handler()))
        await super().start_server()


class GuardedApp(faust.App):
    """A Faust app whose web server is a GuardedWeb."""

    def __init__(self, *args: Any, web_limits: WebLimits, **options: Any) -> None:
        self.web_limits = web_limits
        super().__init__(*args, **options)

    def _new_web(self) -> Web:
        return GuardedWeb(self, self.web_limits)


ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


def quiet_accept_errors(then: ExceptionHandler | None, every_s: float = 1.0) -> ExceptionHandler:
    """An event-loop exception handler that lets through one accept error a second, with a count of the
    rest (asyncio reports each failed accept with a traceback); the others go to `then`."""
    last = [0.0]
    dropped = [0]

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_ERROR:
            now = time.monotonic()
            if now - last[0] < every_s:
                dropped[0] += 1
                return
            last[0] = now
            error = context.get("exception")
            log.error("%s: %s (%d more since the last report)", ACCEPT_ERROR, error, dropped[0])
            dropped[0] = 0
            return
        if then is not None:
            then(loop, context)
        else:
            loop.default_exception_handler(context)

    return handle
