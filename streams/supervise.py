"""Worker parts: each reports its health, and one that fails stops the whole worker, never only itself."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TypeVar

import faust
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from streams.poison import error_text, is_fault

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BACKOFF_S = 5.0


async def retry_faults(
    health: MutableMapping[str, str], part: str, limit_s: float, call: Callable[[], Awaitable[T]]
) -> T:
    """Run `call`; a fault of the broker or ClickHouse is retried with backoff for up to `limit_s`.

    While it lasts, `health[part]` says what is wrong, so /health answers 503
    and /status shows it. Past the limit the fault propagates, and
    `run_or_crash` stops the worker for its supervisor to restart. Any other
    error propagates at once: retrying a bug does not mend it. `call` must be
    safe to repeat (every sink here checks what is stored).
    """

    def degraded(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        health[part] = (
            f"degraded: {error_text(error) if error else 'retrying'} (retrying for up to {limit_s:g} s)"
        )
        log.warning("%s: %s", part, health[part])

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_fault), stop=stop_after_delay(limit_s),
        wait=wait_random_exponential(multiplier=0.1, max=MAX_BACKOFF_S), before_sleep=degraded, reraise=True,
    )  # fmt: skip
    async for attempt in retrying:
        with attempt:
            result = await call()
    if health.get(part, "ok").startswith("degraded"):
        health[part] = "ok"
        log.info("%s: recovered", part)
    return result


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
