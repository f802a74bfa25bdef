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

from rich.cells import cell_len, set_cell_size
from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

from schemas.alerts import Alert, Impact
from schemas.codec import encode_obj, json_fragment
from streams.analyst.alert_state import shown_status

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
    VERTICAL = "vertical"


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
    if fmt is OutputFormat.VERTICAL:
        return render_vertical(columns, rows)
    raise ValueError(f"{fmt.value!r} is not a text format")


def render_json(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """One JSON array of row objects, values exact (datetimes as ISO 8601), and a newline."""
    objects = [{name: _plain(value) for name, value in zip(columns, row)} for row in rows]
    return encode_obj(objects).decode() + "\n"


def render_vertical(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """One field per line, a header line per record, as psql's expanded display (\\x):

    -[ RECORD 1 ]---
    crossing_id | ES-CEUTA-LAND
    reports     | 3

    Names are padded to the longest; a value's line breaks and control characters are shown escaped,
    so each field stays on one line.
    """
    names = [_display(name).plain for name in columns]
    width = max((cell_len(name) for name in names), default=0)
    out = []
    for number, row in enumerate(rows, start=1):
        values = [_display(value).plain.replace("\n", "\\n") for value in row]
        fields = [f"{name}{' ' * (width - cell_len(name))} | {value}" for name, value in zip(names, values)]
        header = f"-[ RECORD {number} ]"
        out.append(header + "-" * max(0, max(map(cell_len, fields), default=0) - cell_len(header)))
        out += fields
    return "".join(line + "\n" for line in out)


def needs_pager(table_width: int, table_height: int, width: int, height: int, is_terminal: bool) -> bool:
    """Whether a table goes through a pager: only to a terminal, and only when it is wider or taller
    than the terminal (a narrower one is printed, and a pipe gets the table as it is)."""
    return is_terminal and (table_width > width or table_height > height)


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


IMPACT_WIDTH, STATUS_WIDTH, GAP = 9, 8, "  "
TIME = "%Y-%m-%d %H:%M:%S"


def ranked_alerts(alerts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Most severe first: open before resolved, then the higher impact, then the newer evidence."""

    def severity(alert: Mapping[str, Any]) -> tuple[bool, int]:
        return alert.get("status") == "resolved", -Impact(alert["impact"]).rank

    newest_first = sorted(alerts, key=lambda a: str(a["window_end"]), reverse=True)
    return sorted(newest_first, key=severity)  # stable: the newest first within a severity


def reason_of(alert: Mapping[str, Any]) -> str:
    """The alert's reason on one line: its description (the detector's figures), else its headline."""
    text = " ".join(str(alert.get("description") or alert.get("headline") or "").split())
    return _printable(text)


def alert_lines(
    alerts: Sequence[Mapping[str, Any]], title: str, width: int, headlines: bool = False
) -> list[str]:
    """The alert list as lines of at most `width` cells, two per alert: impact, status and the id,
    whole; under it the kind and the zone (or, with `headlines`, the headline) and the reason, cut
    with `…`. Only an id longer than the line less 21 cells (none the detectors make today is over
    60) makes a line wider.

    Status is one word: resolved, silenced, acked, or the stored status (streams.analyst.alert_state).
    """
    if not alerts:
        return [title, "(no alerts yet)"]
    lines = [_cut(title, width), GAP.join((_fit("IMPACT", IMPACT_WIDTH), _fit("STATUS", STATUS_WIDTH), "ID"))]
    lines.append(_cut("  headline: reason" if headlines else "  kind, zone: reason", width))
    for alert in ranked_alerts(alerts):
        first = (_fit(str(alert["impact"]), IMPACT_WIDTH), _fit(shown_status(alert), STATUS_WIDTH))
        lines.append(GAP.join((*first, _printable(str(alert["id"])))))
        zone = f", {alert['zone_id']}" if alert.get("zone_id") else ""
        told = _headline_and_reason(alert) if headlines else f"{alert['kind']}{zone}: {reason_of(alert)}"
        lines.append(_cut(_printable(f"  {told}"), width))
    return lines


def _headline_and_reason(alert: Mapping[str, Any]) -> str:
    """The headline, then the reason; a reason that begins with the vessels the headline ends with
    goes on from them ("Encounter at sea: A and B separated after 15 min"), not repeating them."""
    headline, reason = " ".join(str(alert["headline"]).split()), reason_of(alert)
    who = headline.rpartition(": ")[2]
    if ": " in headline and reason.startswith(f"{who} "):
        return headline + reason[len(who) :]
    return f"{headline}: {reason}"


def alert_detail(alert: Mapping[str, Any]) -> list[str]:
    """Everything about one alert, for `borderwatch alerts show ID`: its state, reasons, window,
    evidence, versions, acknowledgements and silence, as lines of plain text.

    Long because it is one page read top to bottom, each section a few lines of it.
    """
    a = Alert.model_validate(alert)
    status = str(alert.get("status", a.status.value))
    flags = (
        ("resolved by time: no update within its clear time", alert.get("stale")),
        ("acknowledged", alert.get("acks")),
        ("silenced", alert.get("silenced_by")),
    )
    notes = [note for note, on in flags if on]
    where = ", ".join(
        x for x in (f"zone {a.zone_id}" if a.zone_id else "", f"route {a.route}" if a.route else "") if x
    )
    lines = [
        f"{a.id}  (version {a.version})",
        f"  {a.headline}",
        f"  kind        {a.kind.value}",
        f"  status      {status}" + (f" ({'; '.join(notes)})" if notes else ""),
        f"  impact      {a.impact.value}, confidence {a.confidence:.2f}",
        f"  where       {where or '-'}"
        + (f", at {a.lat:.4f}, {a.lon:.4f}" if a.lat is not None and a.lon is not None else ""),
        f"  window      {a.window_start:{TIME}} to {a.window_end:{TIME}} UTC (event time)",
        f"  opened      {a.opened_at:{TIME}} UTC, this version sent {a.sent_at:{TIME}} UTC"
        + ("" if a.notify else " (did not notify)"),
        "reasons",
        *(f"  - {part.strip()}" for part in (a.description or a.headline).split(";") if part.strip()),
        "evidence",
        f"  reports ({len(a.event_ids)}): {', '.join(a.event_ids) or '-'}",
        f"  vessels ({len(a.vessel_ids)}): {', '.join(a.vessel_ids) or '-'}",
        "versions",
    ]
    for v in alert.get("versions") or []:
        lines.append(
            f"  v{v['version']}  {v['status']:<8}  {v['impact']:<9}  "
            f"confidence {float(v['confidence']):.2f}  "
            f"window end {str(v['window_end'])[:19]}  sent {str(v['sent_at'])[:19]}"
            + ("" if v.get("notify") else "  (did not notify)")
        )
    if not alert.get("versions"):
        lines.append(f"  v{a.version} (the earlier versions were stored before release 14 kept them)")
    lines.append("acknowledgements")
    acks = alert.get("acks") or []
    lines += [
        f"  {ack['by']} at {ack['at'][:19]} UTC" + (f": {ack['note']}" if ack["note"] else "") for ack in acks
    ]
    lines += [] if acks else ["  none"]
    silence = alert.get("silenced_by")
    lines.append("silenced by")
    if silence:
        lines.append(
            f"  {silence['id']} until {silence['until'][:19]} UTC, "
            f"by {silence['created_by']}: {silence['reason']}"
        )
    else:
        lines.append("  none")
    return [_printable(line) for line in lines]


def silence_lines(silences: Sequence[Mapping[str, Any]]) -> list[str]:
    """The silences, one line each: id, until, kind, zone, who, reason."""
    if not silences:
        return ["(no silences)"]
    lines = []
    for s in silences:
        match = " ".join(x for x in (f"kind={s['kind']}" if s.get("kind") else "",
                                     f"zone={s['zone_id']}" if s.get("zone_id") else "") if x)  # fmt: skip
        lines.append(
            f"{s['id']}  until {str(s['until'])[:19]} UTC  {match}  by {s['created_by']}: {s['reason']}"
        )
    return [_printable(line) for line in lines]


def _fit(text: str, width: int) -> str:
    """`text` padded to `width` cells, or cut to it with `…`."""
    cut = _cut(text, width)
    return cut + " " * (width - cell_len(cut))


def _cut(text: str, width: int) -> str:
    """`text`, or its first `width` cells with `…` as the last when it is wider."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(width - 1, 0)) + "…" if width > 0 else ""


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


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
