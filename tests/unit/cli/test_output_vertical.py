"""--format vertical (one field a line, as psql's \\x) and when a table goes through a pager."""

from __future__ import annotations

from streams.cli.output import OutputFormat, needs_pager, render


def test_vertical_is_one_field_a_line_with_a_header_per_record() -> None:
    text = render(OutputFormat.VERTICAL, ["crossing_id", "reports", "note"],
                  [["ES-CEUTA-LAND", 3, "two\nlines"], ["X", None, "\x1b[31mred"]])  # fmt: skip
    assert text == (
        "-[ RECORD 1 ]--------------\n"
        "crossing_id | ES-CEUTA-LAND\n"
        "reports     | 3\n"
        "note        | two\\nlines\n"
        "-[ RECORD 2 ]------------\n"
        "crossing_id | X\n"
        "reports     | \n"
        "note        | \\x1b[31mred\n"
    )
    assert render(OutputFormat.VERTICAL, ["a"], []) == ""


def test_a_table_pages_only_to_a_terminal_it_does_not_fit() -> None:
    assert needs_pager(200, 10, 80, 24, is_terminal=True)
    assert needs_pager(60, 100, 80, 24, is_terminal=True)
    assert not needs_pager(60, 10, 80, 24, is_terminal=True)
    assert not needs_pager(200, 100, 80, 24, is_terminal=False)
