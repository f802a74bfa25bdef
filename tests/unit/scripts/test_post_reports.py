"""The centre's client script's pure parts: line numbers, batches and how long a Retry-After says."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from email.utils import format_datetime

from scripts.post_reports import Line, batches, numbered_lines, retry_after_s


def test_lines_keep_their_numbers_in_the_file_and_blank_ones_are_skipped() -> None:
    lines = list(numbered_lines(io.BytesIO(b'{"a": 1}\n\n  \n{"b": 2}\r\n{"c": 3}')))
    assert lines == [Line(1, b'{"a": 1}'), Line(4, b'{"b": 2}'), Line(5, b'{"c": 3}')]
    assert [[line.number for line in batch] for batch in batches(lines, 2)] == [[1, 4], [5]]


def test_retry_after_in_seconds_or_as_an_http_date_else_doubling_up_to_a_minute() -> None:
    assert retry_after_s("7", attempt=3) == 7.0
    now = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 12, 7, 10, 0, 30, tzinfo=UTC), usegmt=True)
    assert retry_after_s(later, attempt=0, now=now.timestamp()) == 30.0
    assert retry_after_s(format_datetime(now, usegmt=True), 0, now=now.timestamp() + 5) == 0.0
    assert [retry_after_s(None, attempt) for attempt in (0, 1, 2, 6, 9)] == [1.0, 2.0, 4.0, 60.0, 60.0]
    assert retry_after_s("soon", attempt=1) == 2.0
