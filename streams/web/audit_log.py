"""Worker HTTP API: the audit log file, kept only as long as the raw reports (retention.raw_days).

Each line starts with its UTC time (`2026-11-22 03:14:00,123`), then the JSON
of one request (streams/web/auth.py). Lines older than the retention are
removed when the worker starts and once a day after, by rewriting the file
beside itself and renaming it over the old one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAY_S = 86_400.0
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TIME_CHARS = 19  # the line's time, to the second


def line_time(line: str) -> datetime | None:
    """When an audit line was written (UTC), or None for a line that starts with no time."""
    try:
        return datetime.strptime(line[:_TIME_CHARS], _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def lines_to_keep(lines: Iterable[str], cutoff: datetime) -> list[str]:
    """The lines written at or after `cutoff`; a line with no time goes with the line before it."""
    kept: list[str] = []
    keep = True
    for line in lines:
        at = line_time(line)
        if at is not None:
            keep = at >= cutoff
        if keep:
            kept.append(line)
    return kept


class AuditFileHandler(logging.FileHandler):
    """A private (0600) file handler that drops lines older than `keep_days` (0 keeps them)."""

    def __init__(self, path: Path, keep_days: int, every_s: float = DAY_S) -> None:
        self.path = path
        self.keep_days = keep_days
        super().__init__(path, encoding="utf-8", delay=True)
        formatter = logging.Formatter("%(asctime)s %(message)s")
        formatter.converter = time.gmtime
        self.setFormatter(formatter)
        self._stop = threading.Event()
        self.prune(datetime.now(UTC))
        if keep_days:
            threading.Thread(target=self._daily, args=(every_s,), name="audit-prune", daemon=True).start()

    def prune(self, now: datetime) -> int:
        """Remove the lines older than the retention at `now`; returns how many went."""
        if not self.keep_days or not self.path.exists():
            return 0
        cutoff = now - timedelta(days=self.keep_days)
        self.acquire()
        try:
            with self.path.open(encoding="utf-8", errors="replace") as old:
                lines = old.readlines()
            kept = lines_to_keep(lines, cutoff)
            if len(kept) == len(lines):
                return 0
            fresh = self.path.with_name(self.path.name + ".new")
            fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(kept)
            if self.stream is not None:  # reopened at the next line, on the new file
                self.stream.close()
                self.stream = None
            os.replace(fresh, self.path)
            return len(lines) - len(kept)
        finally:
            self.release()

    def _daily(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.prune(datetime.now(UTC))
            except OSError as error:
                logging.getLogger(__name__).warning("could not prune %s: %s", self.path, error)

    def close(self) -> None:
        self._stop.set()
        super().close()
