"""Clients that attack the worker's API for the hardening tests: held-open connections and slow readers."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import orjson

HALF_REQUEST = b"POST /reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # headers that never finish
GOOD = {
    "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
    "incident_type": "irregular_crossing_attempt", "persons": 3,
}  # fmt: skip


def hold_open(base_url: str, count: int, source: str = "127.0.0.1") -> list[socket.socket]:
    """`count` connections from `source` (a loopback address) that send half a request and then nothing;
    a connection the worker refuses at once is still returned (it reads as closed)."""
    parts = urlsplit(base_url)
    held = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind((source, 0))
        sock.settimeout(10)
        sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        with contextlib.suppress(OSError):  # refused and closed already
            sock.sendall(HALF_REQUEST)
        held.append(sock)
    return held


def still_open(socks: list[socket.socket], timeout_s: float) -> int:
    """How many of `socks` the server has not closed within `timeout_s` (whatever it sends first)."""
    waiting = {sock.fileno(): sock for sock in socks}
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        while waiting and (left_s := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left_s):
                sock = waiting[key.fd]
                try:
                    if sock.recv(65536):
                        continue
                except BlockingIOError:
                    continue
                except OSError:
                    pass  # reset: closed too
                selector.unregister(sock)
                del waiting[key.fd]
    return len(waiting)


def health(base_url: str, timeout_s: float = 1.0) -> dict[str, Any]:
    """/health's JSON (it needs no token); raises when no answer comes within `timeout_s`."""
    try:
        with urllib.request.urlopen(base_url + "/health", timeout=timeout_s) as response:
            return dict(orjson.loads(response.read()))
    except urllib.error.HTTPError as error:  # 503 while a part is not ok: still an answer
        return dict(orjson.loads(error.read()))


def post_reports(base_url: str, token: str, prefix: str, n: int, timeout_s: float = 30) -> dict[str, Any]:
    """POST `n` interception reports as JSON lines; the worker's answer."""
    body = b"\n".join(orjson.dumps({**GOOD, "report_id": f"{prefix}-{i}"}) for i in range(n))
    request = urllib.request.Request(
        base_url + "/reports?kind=interception", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    for _ in range(30):  # a 503 asks to send them again (the broker did not take them yet)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return dict(orjson.loads(response.read()))
        except urllib.error.HTTPError as error:
            answer = error.read()
            if error.code != 503:
                raise AssertionError(f"{error.code}: {answer!r}") from None
            print("503 from /reports:", answer[:300])
            time.sleep(1)
    raise AssertionError("the worker answered 503 thirty times")


CENTRE, ANALYST = "tok-es-gc-attack-0123456789", "tok-analyst-attack-0123456"


def tokens_file(path: Any) -> str:
    """A tokens file with a centre (ES-GC) and an analyst; its path as a setting value."""
    from streams.web.tokens import hash_token

    path.write_text(
        f'[[token]]\nname = "ES-GC"\nrole = "centre"\nrate_per_s = 10000\nsha256 = "{hash_token(CENTRE)}"\n\n'
        f'[[token]]\nname = "maria"\nrole = "analyst"\nsha256 = "{hash_token(ANALYST)}"\n'
    )
    return str(path)


LARGE_ANSWER_SQL = "SELECT repeat('x', 120000) AS s FROM (SELECT arrayJoin(range(100)) AS n)"  # 12 MB as JSON


def unread_sql(base_url: str, token: str, query: str) -> socket.socket:
    """A /sql request whose answer its client reads no further than the status line."""
    port = int(base_url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    body = orjson.dumps({"sql": query})
    sock.sendall(
        f"POST /sql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock
