"""Sink totals for /status: distinct rows stored, read from ClickHouse once and then kept in memory.

Counting the events table on every /status call costs a scan each time (a
fifth of the worker's CPU when a benchmark polled every 50 ms), so the sink
reads the count once, when first asked, and adds what each of its own inserts
stored. The read and the inserts take the same lock, so a read never sees an
insert that is not counted yet, nor counts one twice. After a fault in a
write, or after an erasure, the count is read again when next asked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class RunningCount:
    """A count of stored rows that only this process writes: one ClickHouse read, then in memory."""

    def __init__(self, read: Callable[[], int]) -> None:
        """`read` counts the rows in ClickHouse (the exact answer, and the cost this class avoids)."""
        self._read = read
        self._lock = threading.Lock()
        self._value: int | None = None  # None: not read yet, or unknown since a fault

    def add(self, write: Callable[[], int]) -> int:
        """Run `write`, which returns how many new distinct rows it stored, and count them."""
        with self._lock:
            try:
                stored = write()
            except BaseException:
                self._value = None  # the insert may have landed before the fault: read again
                raise
            if self._value is not None:
                self._value += stored
            return stored

    def value(self) -> int:
        """The count: read from ClickHouse the first time (and after a fault), else from memory."""
        with self._lock:
            if self._value is None:
                self._value = self._read()
            return self._value

    def exact(self) -> int:
        """Read the count from ClickHouse now (and keep it)."""
        with self._lock:
            self._value = self._read()
            return self._value

    def forget(self) -> None:
        """Rows went away outside the sink's writes (an erasure): read again when next asked."""
        with self._lock:
            self._value = None
