"""Command line: the `borderwatch` console script (commands) and what it prints (output)."""

from streams.cli.commands import cli, main
from streams.cli.output import OutputFormat, counts_table

__all__ = ["OutputFormat", "cli", "counts_table", "main"]
