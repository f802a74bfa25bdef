"""Names a person types are checked: the valid one meant, or one line with "did you mean" and the list."""

from __future__ import annotations

import pytest

from geo.catalogue import load_catalogue
from streams.cli.names import UnknownNameError, checked_name, crossing_names, route_names
from streams.cli.zones import zone_rows

ROUTES = ["Central Mediterranean", "Western African", "Western Mediterranean"]


def test_an_exact_name_or_one_differing_in_case_is_the_valid_name() -> None:
    assert checked_name("Western African", ROUTES, "route") == "Western African"
    assert checked_name("western african", ROUTES, "route") == "Western African"


def test_an_unknown_name_is_one_line_with_the_closest_first_and_every_valid_one() -> None:
    with pytest.raises(UnknownNameError) as raised:
        checked_name("Westren Mediterranean", ROUTES, "route")
    text = str(raised.value)
    assert text.startswith("unknown route 'Westren Mediterranean': did you mean 'Western Mediterranean'")
    assert text.endswith("valid: Central Mediterranean, Western African, Western Mediterranean")
    assert "\n" not in text


def test_a_name_like_none_of_them_lists_them_without_a_guess() -> None:
    with pytest.raises(UnknownNameError) as raised:
        checked_name("Atlantis", ROUTES, "route")
    assert str(raised.value) == (
        "unknown route 'Atlantis': valid: Central Mediterranean, Western African, Western Mediterranean"
    )


def test_the_catalogue_names_and_zone_rows() -> None:
    catalogue = load_catalogue()
    assert "ES-CEUTA-LAND" in crossing_names(catalogue)
    assert set(route_names(catalogue)) >= set(ROUTES)
    rows = zone_rows(catalogue)
    layers = {row["layer"] for row in rows}
    assert layers == {"crossing", "route", "country", "section"}
    assert sorted(r["id"] for r in rows if r["layer"] == "crossing") == crossing_names(catalogue)
    (canaries,) = [r for r in rows if r["id"] == "Spain sea border (Canary Islands)"]
    assert canaries["crossings"].split(", ") == [
        "ES-EL-HIERRO", "ES-FUERTEVENTURA", "ES-GRAN-CANARIA", "ES-LANZAROTE", "ES-TENERIFE",
    ]  # fmt: skip
    assert canaries["route"] == "Western African"
