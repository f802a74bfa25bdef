"""Command line: `borderwatch zones`, the crossings, routes, countries and border sections a name may
be (from the geofence catalogue in force: BORDERWATCH_GEOFENCES, else the built-in one)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from schemas.errors import CatalogueError
from streams.cli.output import OutputFormat, render
from streams.config.settings import Settings

if TYPE_CHECKING:
    from geo.catalogue import Catalogue

console = Console()
err = Console(stderr=True, soft_wrap=True)
ZONE_COLUMNS = ["layer", "id", "name", "kind", "country", "border_section", "route", "crossings"]
SHOWN = {
    "crossing": ("crossings (counts --crossing, alerts silence --zone)",
                 ["id", "name", "kind", "country", "border_section", "route"]),
    "route": ("routes (counts --route)", ["id", "name"]),
    "country": ("countries", ["id", "name"]),
    "section": ("border sections", ["name", "country", "route", "crossings"]),
}  # fmt: skip


def zone_rows(catalogue: Catalogue) -> list[dict[str, str]]:
    """One row per crossing, route, country and border section, with ZONE_COLUMNS ('' where none)."""
    blank = dict.fromkeys(ZONE_COLUMNS, "")
    rows = [{**blank, **{c: str(p.get(c, "")) for c in ZONE_COLUMNS[1:-1]}, "layer": "crossing"}
            for p in sorted(catalogue.crossings.props, key=lambda p: (p["route"], p["id"]))]  # fmt: skip
    for layer, zones in (("route", catalogue.routes), ("country", catalogue.countries)):
        rows += [{**blank, "layer": layer, "id": p["id"], "name": p["name"]}
                 for p in sorted(zones.props, key=lambda p: str(p["id"]))]  # fmt: skip
    sections: dict[str, list[dict[str, Any]]] = {}
    for p in catalogue.crossings.props:
        sections.setdefault(p["border_section"], []).append(p)
    for name, crossings in sorted(sections.items()):
        rows.append({**blank, "layer": "section", "id": name, "name": name, "border_section": name,
                     "country": ", ".join(sorted({p["country"] for p in crossings})),
                     "route": ", ".join(sorted({p["route"] for p in crossings})),
                     "crossings": ", ".join(sorted(p["id"] for p in crossings))})  # fmt: skip
    return rows


def zones(
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table (for people), json or csv (one row per zone)")
    ] = OutputFormat.TABLE,
) -> None:
    """The crossings, routes, countries and border sections that --crossing, --route and --zone take."""
    from geo.catalogue import load_catalogue

    settings = Settings()
    try:
        catalogue = load_catalogue(settings.geofences)
    except CatalogueError as error:
        err.print(f"[bold red]error:[/] {error}")
        raise typer.Exit(code=2) from None
    rows = zone_rows(catalogue)
    if fmt is not OutputFormat.TABLE:
        sys.stdout.buffer.write(
            render(fmt, ZONE_COLUMNS, [[r[c] for c in ZONE_COLUMNS] for r in rows]).encode()
        )
        return
    for layer, (title, columns) in SHOWN.items():
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, no_wrap=column == "id")  # an id is copied whole into --crossing
        for row in rows:
            if row["layer"] == layer:
                table.add_row(*(row[c] for c in columns))
        console.print(table)
    err.print(f"(from {catalogue.source})", markup=False, highlight=False)
