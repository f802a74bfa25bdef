"""Detect stage: the vessels of interest, read from a CSV file that can change while running."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import WatchListError

COLUMNS = ("mmsi", "imo", "name", "callsign", "reason")


@dataclass(frozen=True)
class WatchList:
    """Identifiers to watch for; names and call signs compare case-insensitively."""

    mmsi: dict[str, str] = field(default_factory=dict)
    imo: dict[str, str] = field(default_factory=dict)
    name: dict[str, str] = field(default_factory=dict)
    callsign: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.mmsi) + len(self.imo) + len(self.name) + len(self.callsign)

    def match(self, mmsi: str, imo: str, name: str, callsign: str) -> str | None:
        """Why a vessel is watched ('mmsi 224000001: reason'), or None."""
        for label, table, value in (
            ("mmsi", self.mmsi, mmsi),
            ("imo", self.imo, imo),
            ("name", self.name, name.strip().upper()),
            ("callsign", self.callsign, callsign.strip().upper()),
        ):
            if value and value in table:
                return f"{label} {value}: {table[value]}" if table[value] else f"{label} {value}"
        return None


def load_watch_list(path: Path) -> WatchList:
    """Parse a CSV with a header naming some of mmsi, imo, name, callsign, reason.

    Raises WatchListError naming the file and line of the first problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WatchListError(f"watch list {str(path)!r} cannot be read: {error}") from error
    rows = csv.DictReader(text.splitlines())
    header = rows.fieldnames or []
    unknown = [c for c in header if c not in COLUMNS]
    if not header or unknown or not set(header) & set(COLUMNS[:4]):
        raise WatchListError(
            f"watch list {str(path)!r}: header {header!r} must name some of {', '.join(COLUMNS)}"
            + (f"; unknown {unknown!r}" if unknown else "")
        )
    watch = WatchList()
    for line, row in enumerate(rows, start=2):
        if None in row:
            raise WatchListError(f"watch list {str(path)!r} line {line}: more fields than the header")
        reason = (row.get("reason") or "").strip()
        mmsi, imo = (row.get("mmsi") or "").strip(), (row.get("imo") or "").strip()
        name, callsign = (row.get("name") or "").strip().upper(), (row.get("callsign") or "").strip().upper()
        if not (mmsi or imo or name or callsign):
            raise WatchListError(f"watch list {str(path)!r} line {line}: no mmsi, imo, name or callsign")
        if mmsi and not (mmsi.isdigit() and len(mmsi) == 9):
            raise WatchListError(f"watch list {str(path)!r} line {line}: mmsi {mmsi!r} is not 9 digits")
        if imo and not (imo.isdigit() and len(imo) == 7):
            raise WatchListError(f"watch list {str(path)!r} line {line}: imo {imo!r} is not 7 digits")
        for table, value in (
            (watch.mmsi, mmsi),
            (watch.imo, imo),
            (watch.name, name),
            (watch.callsign, callsign),
        ):
            if value:
                table[value] = reason
    return watch


class WatchListFile:
    """A watch list that reloads itself when its file changes; a broken edit keeps the last good list."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.error: str | None = None
        self._mtime_ns = -1
        self.current = load_watch_list(path) if path else WatchList()
        if path:
            self._mtime_ns = path.stat().st_mtime_ns

    def refresh(self) -> WatchList:
        """The list, re-read first if the file changed since the last look."""
        if self.path is None:
            return self.current
        try:
            mtime_ns = self.path.stat().st_mtime_ns
        except OSError as error:
            self.error = f"watch list {str(self.path)!r} cannot be read: {error}"
            return self.current
        if mtime_ns != self._mtime_ns:
            self._mtime_ns = mtime_ns
            try:
                self.current = load_watch_list(self.path)
                self.error = None
            except WatchListError as error:
                self.error = str(error)
        return self.current
