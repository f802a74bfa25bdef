"""Worker HTTP API: who may ask. A bearer token, the worker's own Host and Origin, documented content types.

Even on loopback: any web page the operator opens can send requests to
127.0.0.1, so a request needs the token (a browser cannot add it to a simple
cross-site request), a Host naming this worker (DNS rebinding), no foreign
Origin, and only the content type its endpoint documents (so no `text/plain`
form posts).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

OPEN_PATHS = frozenset({"/health"})
# path -> (method, content type of its body, or None for no body)
ENDPOINTS: Mapping[str, tuple[str, str | None]] = {
    "/health": ("GET", None),
    "/status": ("GET", None),
    "/counts": ("GET", None),
    "/alerts": ("GET", None),
    "/sql": ("POST", "application/json"),
    "/erase": ("POST", "application/json"),
}


@dataclass(frozen=True)
class Denied:
    """An HTTP refusal: status and a sentence."""

    status: int
    reason: str


def local_hosts(port: int) -> frozenset[str]:
    """The Host values that name a worker listening on loopback at `port`."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"})


def check_request(
    method: str, path: str, headers: Mapping[str, str], token: str, hosts: frozenset[str]
) -> Denied | None:
    """None when the request may reach its endpoint; else the refusal."""
    host = headers.get("Host", "")
    if host.lower() not in hosts:
        return Denied(421, f"Host {host!r} is not this worker")
    origin = headers.get("Origin")
    if origin is not None and origin.lower().removeprefix("http://") not in hosts:
        return Denied(403, f"Origin {origin!r} is not this worker")
    if path not in ENDPOINTS:
        return Denied(404, f"no endpoint {path!r}")
    expected_method, content_type = ENDPOINTS[path]
    if method != expected_method:
        return Denied(405, f"{path} takes {expected_method}, not {method}")
    if path not in OPEN_PATHS and not _bearer_matches(headers.get("Authorization", ""), token):
        return Denied(401, "a bearer token is required: Authorization: Bearer <token from the data dir>")
    given = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type is not None and given != content_type:
        return Denied(415, f"{path} takes Content-Type {content_type}, not {given or 'none'!r}")
    has_body = headers.get("Content-Length", "0") not in ("", "0") or "Transfer-Encoding" in headers
    if content_type is None and (given or has_body):
        return Denied(415, f"{path} takes no request body")
    return None


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def auth_middleware(token: str, port: int) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """An aiohttp middleware that applies `check_request` to every request."""
    hosts = local_hosts(port)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        denied = check_request(request.method, request.path, request.headers, token, hosts)
        if denied is not None:
            return web.json_response({"error": denied.reason}, status=denied.status)
        return await handler(request)

    return guard
