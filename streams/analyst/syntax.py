"""Analyst SQL: ClickHouse's syntax error in one line, with its position, without the expected tokens."""

from __future__ import annotations

import re

# ClickHouse says e.g. "Syntax error: failed at position 7 (1) (line 1, col 7): 1. Expected one of: token
# sequence, Dot, ... (SYNTAX_ERROR)"; the list of what it expected can run to hundreds of characters.
_FAILED_AT = re.compile(r"Syntax error: failed at position (\d+) \((.*?)\)(?: \(line \d+, col \d+\))?: ")
_UNMATCHED = re.compile(r"Unmatched parentheses: .*? is never closed")


def syntax_error_line(message: str) -> str:
    """'Syntax error: failed at position N (token)', with an unmatched parenthesis if ClickHouse named
    one; any other message on one line, at most 300 characters."""
    failed = _FAILED_AT.search(message)
    if failed is None:
        return " ".join(message.split())[:300]
    line = f"Syntax error: failed at position {failed.group(1)} ({failed.group(2)})"
    unmatched = _UNMATCHED.search(message, failed.end())
    return f"{line}; {unmatched.group()}" if unmatched else line
