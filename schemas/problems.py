"""The first problem of a pydantic validation error, as the one line a person reads."""

from __future__ import annotations

from pydantic import ValidationError


def first_problem(error: ValidationError) -> tuple[str, str]:
    """(where, message): the dotted path of the first field at fault ('' for the whole value), and why."""
    problems = error.errors()
    if not problems:
        return "", str(error)
    first = problems[0]
    return ".".join(str(part) for part in first["loc"]), first["msg"]
