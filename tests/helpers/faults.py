"""A fault injector for the tests: a TCP proxy between clients and the broker that cuts on command.

With a TLS context it is also the broker's TLS front: Tansu 0.6.0 cannot serve
TLS itself (README, Security), so the tests' TLS ends here, in front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading

from streams.kafka.broker import free_port


class FaultProxy:
    """Forwards 127.0.0.1:port to 127.0.0.1:target; `cut` drops every connection and refuses new ones.

    `tls`: the server context clients must complete a handshake with (it may require their certificate).
    """

    def __init__(self, target: int, tls: ssl.SSLContext | None = None) -> None:
        self.target = target
        self.tls = tls

        self.port = free_port()
        self.cut_off = False
        self.connections: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self.thread.start()
        started.wait(5)

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Drop every open connection; refuse new ones until `restore`."""
        self.loop.call_soon_threadsafe(self._cut)

    def restore(self) -> None:
        self.loop.call_soon_threadsafe(setattr, self, "cut_off", False)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._cut)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def _cut(self) -> None:
        self.cut_off = True
        for writer in list(self.connections):
            writer.transport.abort()
        self.connections.clear()

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(
            self._handle, "127.0.0.1", self.port, ssl=self.tls
        ))
        started.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.cut_off:
            client_w.transport.abort()
            return
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_w.transport.abort()
            return
        self.connections |= {client_w, broker_w}
        await asyncio.gather(self._pipe(client_r, broker_w), self._pipe(broker_r, client_w))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self.connections.discard(writer)
