"""Benchmark helpers: how a benchmark watches a worker without measuring its own watching.

A benchmark asks /status at most once a second (`POLL_S`): when it polled every
50 ms, answering took a fifth of the worker's CPU (py-spy, issue 24). Times that
need more precision than the poll come from ClickHouse's own insert times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from streams.client.worker_api import WorkerApi

POLL_S = 1.0


def poll_status(
    api: WorkerApi, done: Callable[[dict[str, Any]], bool], timeout_s: float = 900
) -> dict[str, Any]:
    """/status once a second until `done(status)`; the status that was done."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = api.get("/status") or {}
        if "error" not in status and done(status):
            return status
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s:.0f} s; last status {status}")
        time.sleep(POLL_S)


class InsertSpan(NamedTuple):
    """The events stored after the first insert, and the seconds from the first insert to the last."""

    reports: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.reports / self.seconds if self.seconds > 0 else float("nan")


def insert_span(api: WorkerApi, since_ms: int = 0) -> InsertSpan:
    """From ClickHouse's insert times (ms): a rate that no poll interval blurs. The first insert's
    reports are left out, since their processing started before the span does."""
    since = f"inserted_at >= fromUnixTimestamp64Milli({since_ms})"
    answer = api.sql(
        f"SELECT countIf(inserted_at > (SELECT min(inserted_at) FROM borderwatch.events WHERE {since})), "
        f"dateDiff('millisecond', min(inserted_at), max(inserted_at)) FROM borderwatch.events WHERE {since}"
    )
    if "error" in answer:
        raise RuntimeError(answer["error"])
    ((reports, span_ms),) = answer["rows"]
    return InsertSpan(int(reports), int(span_ms) / 1000)
