"""Command line: names a person types (route, crossing, kind) checked against the valid ones, with a
"did you mean" from difflib."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geo.catalogue import Catalogue


@dataclass
class UnknownNameError(Exception):
    """A name that is none of the valid ones; `str()` is the one line to print."""

    what: str
    value: str
    valid: tuple[str, ...]
    suggested: tuple[str, ...]

    def __str__(self) -> str:
        first, *others = self.suggested or ("",)
        also = f" (or {', '.join(repr(s) for s in others)})" if others else ""
        hint = f"did you mean {first!r}{also}? " if first else ""
        return f"unknown {self.what} {self.value!r}: {hint}valid: {', '.join(self.valid)}"


def checked_name(value: str, valid: Iterable[str], what: str) -> str:
    """The valid name `value` stands for (exact, else the one that differs only in case); UnknownNameError
    with the closest valid names otherwise."""
    names = tuple(sorted(set(valid)))
    if value in names:
        return value
    by_case = {name.casefold(): name for name in names}
    if value.casefold() in by_case:
        return by_case[value.casefold()]
    close = difflib.get_close_matches(value.casefold(), list(by_case), n=3, cutoff=0.6)
    raise UnknownNameError(what, value, names, tuple(by_case[c] for c in close))


def route_names(catalogue: Catalogue) -> list[str]:
    """The routes a count may carry: the catalogue's route areas and its crossings' routes ('other')."""
    return sorted(set(catalogue.routes.ids) | {str(p["route"]) for p in catalogue.crossings.props})


def crossing_names(catalogue: Catalogue) -> list[str]:
    """The catalogue's crossing ids."""
    return sorted(catalogue.crossings.ids)
