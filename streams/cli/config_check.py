"""Command line: `borderwatch config check`, the settings in force and where each came from."""

from __future__ import annotations

import os
import tomllib
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from streams.config.settings import Settings, config_file
from streams.config.sources import setting_sources, unknown_names

config_cli = typer.Typer(help="The settings: where they come from, and what is wrong with them.",
                         no_args_is_help=True)  # fmt: skip
console = Console()
err = Console(stderr=True, soft_wrap=True)


@config_cli.command("check")
def check() -> None:
    """Print every setting in force and where it came from (environment, file or default); warn about
    BORDERWATCH_* variables and file keys that are no setting. Exit 1 when there is a warning."""
    settings = Settings()
    path = config_file()
    file_values: dict[str, Any] = tomllib.loads(path.read_text()) if path else {}
    values = settings.model_dump(mode="json")
    table = Table(title=f"settings in force (file: {path or 'none; set BORDERWATCH_CONFIG or --config'})")
    for column in ("setting", "value", "from"):
        table.add_column(column, overflow="fold")
    for found in setting_sources(values, os.environ, file_values, str(path)):
        table.add_row(found.name, _shown(found.value), found.source)
    console.print(table)
    warnings = unknown_names(Settings.model_fields, os.environ, file_values)
    for warning in warnings:
        err.print(f"[bold yellow]warning:[/] {warning}")
    if warnings:
        raise typer.Exit(code=1)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    return str(value)
