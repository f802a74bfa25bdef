"""Worker parts: each reports its health, and one that fails stops the whole worker, never only itself."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import faust
from aiokafka.errors import KafkaError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from schemas.errors import BrokerResetError, BrokerUnavailableError
from streams.stages.poison import error_text, is_fault
from streams.worker.health import Health, State

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BACKOFF_S = 5.0
BROKER_CHECK_S = 2.0
STOP_LIMIT_S = 15.0  # from a part's failure to the process's end, at most


async def retry_faults(health: Health, part: str, limit_s: float, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call`; a fault of the broker or ClickHouse is retried with backoff for up to `limit_s`.

    While it lasts, the part's health says what is wrong, so /health answers 503
    and /status shows it. Past the limit the fault propagates, and
    `run_or_crash` stops the worker for its supervisor to restart. Any other
    error propagates at once: retrying a bug does not mend it. `call` must be
    safe to repeat (every sink here checks what is stored).
    """

    def degraded(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        what = error_text(error) if error else "retrying"
        health.retried(part, f"{what} (retrying for up to {limit_s:g} s)")
        log.warning("%s: %s", part, health.of(part))

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_fault), stop=stop_after_delay(limit_s),
        wait=wait_random_exponential(multiplier=0.1, max=MAX_BACKOFF_S), before_sleep=degraded, reraise=True,
    )  # fmt: skip
    async for attempt in retrying:
        with attempt:
            result = await call()
    if health.of(part).state is State.DEGRADED:
        health.ok(part)
        log.info("%s: recovered", part)
    return result


def broker_restarted(cluster: str, earlier: Sequence[str]) -> str:
    """What a worker says when its broker is a cluster this data has not seen, after others."""
    return (
        f"the broker is cluster {cluster!r}, new to this data (before it: {', '.join(map(repr, earlier))}): "
        "it was started without the earlier log. The counts, events, rejects and alerts in ClickHouse are "
        "kept, and resent reports are still known as resends; the detectors' state (vessel tracks, open "
        "alert groups, the history learned since the seed) was in the old log's changelogs and starts again"
    )


async def watch_broker(
    health: Health,
    cluster_id: Callable[[float], Awaitable[str]],
    cluster: str,
    limit_s: float,
    every_s: float = BROKER_CHECK_S,
) -> None:
    """Ask the broker every `every_s`; the health of part `broker` says when it does not answer.

    aiokafka's clients reconnect on their own and an idle worker would never
    notice a lost broker, so the outage is watched here: past `limit_s` it
    raises, and `run_or_crash` stops the worker for its supervisor.

    A broker that answers as another cluster than `cluster`, the one the worker
    started on, was restarted without its log: its offsets begin again, and the
    positions the worker holds (and ClickHouse's record of where each report
    was read) name other messages. The worker stops at once and starts over on
    the new log.
    """
    down_since: float | None = None
    while True:
        try:
            answered = await cluster_id(every_s)
        except (KafkaError, TimeoutError, OSError) as error:
            now = time.monotonic()
            down_since = now if down_since is None else down_since
            if now - down_since >= limit_s:
                raise BrokerUnavailableError(
                    f"the broker did not answer for {limit_s:g} s (BORDERWATCH_FAULT_LIMIT_S): "
                    f"{error_text(error)}"
                ) from error
            health.degraded(
                "broker",
                f"the broker does not answer ({error_text(error)}), for {now - down_since:.0f} s "
                f"(the worker stops after {limit_s:g} s)",
            )
            log.warning("broker: %s", health.of("broker"))
        else:
            if answered != cluster:
                raise BrokerResetError(
                    f"the broker answers as cluster {answered!r}, not {cluster!r} as when this worker "
                    "started: it was restarted without its log (the bundled broker keeps it in memory), "
                    "so its offsets begin again; the worker stops and must be started again"
                )
            if down_since is not None:
                log.info("broker: answering again")
            down_since = None
            health.ok("broker")
        await asyncio.sleep(every_s)


async def run_or_crash(app: faust.App, health: Health, part: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run one part of the worker; a failure shows in /health and crashes the app (exit non-zero)."""
    health.ok(part)
    try:
        await run()
    except Exception as error:
        health.failed(part, str(error))
        log.exception("%s stopped the worker", part)
        exit_within(STOP_LIMIT_S)
        await app.crash(error)
        raise


def exit_within(seconds: float) -> None:
    """End the process (exit status 1) if it has not stopped within `seconds`.

    Faust waits up to a minute for a consumer thread whose broker is gone
    before it lets the process go; a supervisor should not wait that long to
    restart a worker whose failure is already decided. Nothing is lost by the
    cut: what was not committed is read again, as after a kill -9.
    """

    def cut() -> None:
        log.error("the worker did not stop within %g s of its failure; exiting now", seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
