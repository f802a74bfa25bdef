"""Benchmark: CPU per report of validation, and of each hardening check, on the bundled sample feed.

Validates every accepted report of the bundled interception and vessel samples, several
times over, and prints µs per report for `validate_report` as a whole, then
for its parts: the pydantic parse alone, and the duplicate-key scan alone.
Run: python scripts/bench_validate.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from geo import load_catalogue
from schemas.events import ReportKind
from schemas.reports import InterceptionReport, VesselReport
from schemas.validate import duplicate_key, validate_report
from streams.sources.replay import open_lines

DATA = Path(__file__).resolve().parents[1] / "streams" / "data"


def per_report_us(
    lines: list[tuple[bytes, ReportKind]], call: Callable[[bytes, ReportKind], object], repeat: int
) -> float:
    started = time.process_time()
    for _ in range(repeat):
        for raw, kind in lines:
            call(raw, kind)
    return (time.process_time() - started) / (repeat * len(lines)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    lines = [(raw, ReportKind.INTERCEPTION) for raw in open_lines(DATA / "sample_interceptions.jsonl.gz")]
    lines += [(raw, ReportKind.VESSEL) for raw in open_lines(DATA / "sample_vessels.jsonl.gz")]
    crossings = load_catalogue().crossing_ids
    now = datetime.now(UTC)
    models = {ReportKind.INTERCEPTION: InterceptionReport, ReportKind.VESSEL: VesselReport}
    # The accepted reports only (the sample has a few malformed ones): the path every report takes.
    lines = [
        (raw, kind) for raw, kind in lines
        if isinstance(validate_report(raw, kind, now, crossings), models[kind])
    ]  # fmt: skip
    whole = per_report_us(lines, lambda raw, kind: validate_report(raw, kind, now, crossings), args.repeat)
    parse = per_report_us(lines, lambda raw, kind: models[kind].model_validate_json(raw), args.repeat)
    scan = per_report_us(lines, lambda raw, kind: duplicate_key(raw), args.repeat)
    print(f"reports: {len(lines)} x {args.repeat}")
    print(f"validate_report: {whole:.1f} µs per report ({1e6 / whole:,.0f} reports/s on one core)")
    print(f"  pydantic parse alone: {parse:.1f} µs; duplicate-key scan alone: {scan:.1f} µs")


if __name__ == "__main__":
    main()
