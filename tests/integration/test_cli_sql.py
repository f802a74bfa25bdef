"""`borderwatch sql` through the real CLI on a real worker: --format vertical, a syntax error in one line
with its position, and a table wider than the terminal through $PAGER only when stdout is a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path
from typing import Any

from tests.helpers.cli import CLI, cli

WIDE = "SELECT 'ES-CEUTA-LAND' AS crossing_id, repeat('x', 120) AS wide, 3 AS reports"


def test_sql_vertical_syntax_errors_and_a_pager_for_a_wide_table(start_worker: Any, tmp_path: Path) -> None:
    worker = start_worker()
    data_dir = worker.log.parent
    one_row = "SELECT 'ES-CEUTA-LAND' AS crossing_id, 3 AS reports"
    vertical = cli(["sql", one_row, "--format", "vertical"], data_dir)
    assert vertical.returncode == 0, vertical.stderr
    assert vertical.stdout == "-[ RECORD 1 ]--------------\ncrossing_id | ES-CEUTA-LAND\nreports     | 3\n"

    refused = cli(["sql", "SELECT count( FROM events WHERE"], data_dir)
    assert refused.returncode == 2, refused.stdout
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: Syntax error: failed at position 20 (events); Unmatched parentheses"), line

    # To a pipe the table is printed, never paged.
    paged = tmp_path / "paged.txt"
    env = {"PAGER": f"cat > {paged}", "COLUMNS": "60", "LINES": "20"}
    piped = cli(["sql", WIDE], data_dir, **env)
    assert piped.returncode == 0 and "ES-CEUTA-LAND" in piped.stdout and not paged.exists(), piped.stderr
    # To a terminal narrower than the table, the whole table goes to $PAGER, each row on one line.
    main, side = pty.openpty()
    environment = {**os.environ, "BORDERWATCH_DATA_DIR": str(data_dir), **env}
    to_terminal = subprocess.run([*CLI, "sql", WIDE], env=environment, stdin=side, stdout=side,
                                 stderr=subprocess.PIPE, timeout=120)  # fmt: skip
    os.close(side)
    os.close(main)
    assert to_terminal.returncode == 0, to_terminal.stderr
    rows = [line for line in paged.read_text().splitlines() if "ES-CEUTA-LAND" in line]
    assert len(rows) == 1 and "x" * 120 in rows[0], paged.read_text()
