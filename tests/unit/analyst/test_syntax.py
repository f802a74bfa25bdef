"""A syntax error in one line with its position, from ClickHouse's own messages (a real chdb engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.analyst.syntax import syntax_error_line
from streams.sinks.clickhouse.connection import connect


@pytest.mark.parametrize(
    ("query", "line"),
    [
        ("SELEC 1", "Syntax error: failed at position 7 (1)"),
        ("SELECT 1 FROM", "Syntax error: failed at position 14 (end of query)"),
        ("SELECT a b c FROM t", "Syntax error: failed at position 12 (c)"),
        ("SELECT count( FROM system.one",
         "Syntax error: failed at position 20 (system); Unmatched parentheses: '(' at position 13 is never "
         "closed"),
    ],
)  # fmt: skip
def test_clickhouse_syntax_errors_keep_the_position_and_drop_the_expected_tokens(
    engine_dir: Path, query: str, line: str
) -> None:
    client = connect(f"chdb://{engine_dir}")
    with pytest.raises(Exception) as raised:
        client.query("SELECT formatQuery({q:String})", parameters={"q": query})
    message = str(raised.value)
    assert "Expected one of" in message or "Unmatched" in message  # what is dropped was there
    assert syntax_error_line(message) == line
    client.close()


def test_another_message_is_one_line_and_short() -> None:
    line = syntax_error_line("Code: 1.\nsomething\nelse " + "x" * 400)
    assert line == ("Code: 1. something else " + "x" * 400)[:300]
