"""The project's licence, and every data file the package ships named with its licence in one list."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIST = ROOT / "streams" / "data" / "LICENSES.md"


def shipped_data() -> set[str]:
    """The repository paths of the package-data files, as pyproject.toml's globs find them."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    return {
        str(path.relative_to(ROOT))
        for package, patterns in globs.items()
        for pattern in patterns
        for path in (ROOT / package.replace(".", "/")).glob(pattern)
        if path.is_file()
    }


def test_the_code_is_apache_2_0_in_the_licence_file_and_the_package_metadata() -> None:
    assert (ROOT / "LICENSE").read_text().split()[:4] == ["Apache", "License", "Version", "2.0,"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "Apache-2.0"}


def test_every_shipped_data_file_is_named_in_the_licence_list_which_ships_too() -> None:
    shipped = shipped_data()
    assert "geo/data/catalogue.geojson" in shipped and str(LIST.relative_to(ROOT)) in shipped
    listed = LIST.read_text()
    assert sorted(path for path in shipped if f"`{path}`" not in listed) == []


def test_the_openstreetmap_data_carries_its_licence_and_attribution() -> None:
    row = next(line for line in LIST.read_text().splitlines() if "`geo/data/catalogue.geojson`" in line)
    assert "ODbL" in row and "© OpenStreetMap contributors" in row
