"""Worker parts: each reports its health, and one that fails stops the whole worker, never only itself."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping

import faust

log = logging.getLogger(__name__)


async def run_or_crash(
    app: faust.App, health: MutableMapping[str, str], part: str, run: Callable[[], Awaitable[None]]
) -> None:
    """Run one part of the worker; a failure shows in /health and crashes the app (exit non-zero)."""
    health[part] = "ok"
    try:
        await run()
    except Exception as error:
        health[part] = f"failed: {error}"
        log.exception("%s stopped the worker", part)
        await app.crash(error)
        raise
