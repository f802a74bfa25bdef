"""Command line: a table wider or taller than the terminal goes through a pager ($PAGER, else
`less -RS`: colours kept, long lines scrolled sideways rather than wrapped); to a pipe it is printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from rich.console import Console
from rich.table import Table

from streams.cli.output import needs_pager


def show_table(console: Console, table: Table) -> None:
    """Print a table, through a pager when stdout is a terminal it does not fit (see `needs_pager`)."""
    natural = console.measure(table, options=console.options.update(width=100_000)).maximum
    wide = Console(width=max(natural, console.width), color_system="auto" if console.is_terminal else None,
                   force_terminal=console.is_terminal, soft_wrap=False)  # fmt: skip
    with wide.capture() as captured:
        wide.print(table)
    text = captured.get()
    fits = not needs_pager(natural, text.count("\n"), console.width, console.height, sys.stdout.isatty())
    command = os.environ.get("PAGER") or ("less -RS" if shutil.which("less") else "")
    if fits or not command.strip():
        console.print(table)
        return
    try:
        subprocess.run(command, shell=True, input=text.encode(), check=False)
    except OSError:
        sys.stdout.write(text)
