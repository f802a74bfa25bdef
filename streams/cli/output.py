"""CLI output: result rows in, text out, as a rich table, a JSON array of objects or CSV.

Nothing here does I/O, so every format is unit-tested without a worker.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

from schemas.alerts import Alert
from schemas.codec import encode_obj, json_fragment

# Cells a spreadsheet would read as a formula (OWASP "CSV Injection"; ASVS 1.2.10 adds NUL).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
ALERT_COLUMNS = tuple(Alert.model_fields)
# Control characters (but tab and newline) and bidi overrides would rewrite the terminal, not show.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


class OutputFormat(StrEnum):
    """What `--format` writes to stdout."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def columns_and_rows(records: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Column names (first seen first) and value rows of dict records; a missing key is None."""
    columns = list(dict.fromkeys(name for record in records for name in record))
    return columns, [[record.get(name) for name in columns] for record in records]


def render(fmt: OutputFormat, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The text of a machine format (json or csv); the table goes through rich instead."""
    if fmt is OutputFormat.JSON:
        return render_json(columns, rows)
    if fmt is OutputFormat.CSV:
        return render_csv(columns, rows)
    raise ValueError(f"{fmt.value!r} is not a text format")


def render_json(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """One JSON array of row objects, values exact (datetimes as ISO 8601), and a newline."""
    objects = [{name: _plain(value) for name, value in zip(columns, row)} for row in rows]
    return encode_obj(objects).decode() + "\n"


def render_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """RFC 4180 CSV with a header; text cells that a spreadsheet would run get a leading `'`.

    Cells with a comma, quote, CR or LF are quoted (quotes doubled); rows end in CRLF.
    Numbers are written as they are, so a negative number stays a number.
    """
    if not columns:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_defused(str(name)) for name in columns])
    writer.writerows([_csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def cell_text(value: Any) -> str:
    """A value as one cell's text: '' for None, ISO 8601 for times, JSON for lists and maps."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list | tuple | dict):
        return encode_obj(_plain(value)).decode()
    return str(value)


def rich_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None,
    right: Iterable[str] = (), keep_whole: Iterable[str] = (),
) -> Table:  # fmt: skip
    """A rich table of plain cells (no markup, control characters shown escaped).

    `right` columns are right-justified; `keep_whole` columns are never wrapped,
    folded or cut, however narrow the terminal, so their values can be copied.
    """
    cells = [[_display(value) for value in row] for row in rows]
    table = Table(title=title)
    right, keep_whole = set(right), set(keep_whole)
    for index, name in enumerate(columns):
        justify: JustifyMethod = "right" if name in right else "left"
        if name in keep_whole:
            widest = max((cell_len(row[index].plain) for row in cells), default=0)
            table.add_column(name, justify=justify, no_wrap=True, overflow="ignore",
                             min_width=max(widest, cell_len(name)))  # fmt: skip
        else:
            table.add_column(name, justify=justify)
    for row in cells:
        table.add_row(*row)
    return table


def counts_table(rows: list[dict[str, Any]], title: str) -> Table:
    """A rich table of count rows (any grouping)."""
    if not rows:
        table = Table(title=title)
        table.add_column("no reports yet")
        return table
    columns, values = columns_and_rows(rows)
    shown = [["(none)" if v == "" else v for v in row] for row in values]
    return rich_table(columns, shown, title, right=("reports", "persons"))


def alerts_table(alerts: Sequence[Mapping[str, Any]], title: str) -> Table:
    """The alert list: the id column is shown whole, ready for `borderwatch alerts cap ID`."""
    rows: list[list[Any]] = []
    for alert in (Alert.model_validate(a) for a in alerts):
        window = f"{alert.window_start:%m-%d %H:%M}–{alert.window_end:%H:%M}"
        rows.append([alert.id, alert.status.value, alert.impact.value, alert.zone_id, alert.route, window,
                     alert.headline])  # fmt: skip
    if not rows:
        rows.append(["(no alerts yet)", "", "", "", "", "", ""])
    columns = ("id", "status", "impact", "zone", "route", "window (UTC)", "headline")
    return rich_table(columns, rows, title, keep_whole=("id",))


def _plain(value: Any) -> Any:
    """A value orjson writes exactly: big ints and decimals as JSON numbers, times as ISO 8601."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _UINT64_MAX else json_fragment(str(value).encode())
    if isinstance(value, Decimal):
        return json_fragment(str(value).encode()) if value.is_finite() else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return cell_text(value)


def _csv_cell(value: Any) -> str | int | float | Decimal:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    return _defused(cell_text(value))


def _defused(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _display(value: Any) -> Text:
    return Text(_UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], cell_text(value)))
