"""Send a file of reports (NDJSON, one report a line) to a borderwatch worker's POST /reports.

A small client for a border centre, Python's standard library only: copy it anywhere with Python 3.9+.
Reports go in requests of --batch lines; a 429 (over the centre's rate) or a 503 (the broker did not take
them) is sent again after the Retry-After the worker gave, and a connection that fails is tried again
after 1, 2, 4 ... seconds, up to --retries times. A resend is safe: a report counts once. Any other
refusal (400, 401, 403, 413, 415) stops at once, since only a person can fix it.

    BORDERWATCH_TOKEN=... python scripts/post_reports.py reports.ndjson --url http://127.0.0.1:6066
    python scripts/post_reports.py vessels.ndjson --kind vessel --token-file token.txt

Each rejected line is printed to stderr with its line number in the file and the reason; the last line
on stdout sums up. Exit 0 when every report was accepted (or was a duplicate), 1 when some were
rejected, 2 when a request was refused or the retries ran out.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

RETRIED = (429, 503)


@dataclass(frozen=True)
class Line:
    """A report line and its number in the file, from 1."""

    number: int
    text: bytes


@dataclass
class Tally:
    """What became of the lines sent so far."""

    results: Counter[str] = field(default_factory=Counter)
    waits: int = 0

    def summary(self) -> str:
        """One line: how many lines, and how many of each result."""
        total = sum(self.results.values())
        each = ", ".join(f"{n} {name}" for name, n in sorted(self.results.items()))
        return f"{total} reports: {each or 'none sent'}; {self.waits} waits for the worker"


class GaveUpError(Exception):
    """A request the worker refused, or whose retries ran out: the message says which."""


def numbered_lines(handle: IO[bytes]) -> Iterator[Line]:
    """The non-blank lines of an NDJSON stream, without their line ends, with their numbers."""
    for number, raw in enumerate(handle, start=1):
        text = raw.strip()
        if text:
            yield Line(number, text)


def batches(lines: Iterable[Line], size: int) -> Iterator[list[Line]]:
    """Lines in lists of at most `size`."""
    batch: list[Line] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def retry_after_s(header: str | None, attempt: int, now: float | None = None) -> float:
    """Seconds to wait before trying again: Retry-After in seconds or as an HTTP date (RFC 9110), else
    1, 2, 4 ... seconds by attempt (from 0), at most 60."""
    if header:
        value = header.strip()
        if value.isdigit():
            return float(value)
        try:
            at = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            at = None
        if at is not None:
            return max(0.0, at.timestamp() - (time.time() if now is None else now))
    return float(min(60, 2**attempt))


@dataclass(frozen=True)
class Target:
    """Where and as whom to post."""

    url: str
    token: str
    kind: str
    tls: ssl.SSLContext | None = None


def post(target: Target, body: bytes) -> tuple[int, dict[str, Any], str | None]:
    """One POST: (status, JSON answer, Retry-After); a connection that fails raises OSError."""
    request = urllib.request.Request(
        f"{target.url.rstrip('/')}/reports?kind={target.kind}", data=body, method="POST",
        headers={"Authorization": f"Bearer {target.token}", "Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60, context=target.tls) as response:
            return response.status, json.loads(response.read()), None
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {"error": text.decode(errors="replace")[:300]}
        return (
            error.code,
            answer if isinstance(answer, dict) else {"error": str(answer)},
            error.headers.get("Retry-After"),
        )


def send_batch(
    target: Target, batch: list[Line], retries: int, tally: Tally, sleep: Callable[[float], None] = time.sleep
) -> list[dict[str, Any]]:
    """Post one batch until the worker answers 202; its per-line results. GaveUpError otherwise."""
    body = b"\n".join(line.text for line in batch) + b"\n"
    for attempt in range(retries + 1):
        try:
            status, answer, retry_after = post(target, body)
        except OSError as error:  # urllib.error.URLError and a connection reset are OSErrors
            status, answer, retry_after = 0, {"error": str(error)}, None
        if status == 202:
            return list(answer.get("results", []))
        if status not in (*RETRIED, 0):
            raise GaveUpError(
                f"lines {batch[0].number}-{batch[-1].number}: {status} {answer.get('error', answer)}"
            )
        if attempt == retries:
            break
        wait = retry_after_s(retry_after, attempt)
        print(f"lines {batch[0].number}-{batch[-1].number}: {status or 'no answer'} "
              f"({answer.get('error', '')}); again in {wait:g} s", file=sys.stderr)  # fmt: skip
        tally.waits += 1
        sleep(wait)
    raise GaveUpError(f"lines {batch[0].number}-{batch[-1].number}: no 202 after {retries} retries")


def report_results(batch: list[Line], results: list[dict[str, Any]], tally: Tally) -> None:
    """Count each line's result; print the rejected ones with their line in the file."""
    for result in results:
        line = batch[int(result["line"]) - 1]
        tally.results[str(result["result"])] += 1
        if result["result"] == "rejected":
            where = f" ({result['field']})" if result.get("field") else ""
            print(f"line {line.number}: rejected {result['reason']}{where}: {result.get('detail', '')}",
                  file=sys.stderr)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Send the file; the exit status of the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="NDJSON reports, one a line; - for standard input")
    parser.add_argument("--url", default="http://127.0.0.1:6066", help="the worker's API")
    parser.add_argument("--kind", choices=("interception", "vessel"), default="interception")
    parser.add_argument("--batch", type=int, default=500, help="reports per request (at most 10,000)")
    parser.add_argument("--retries", type=int, default=8, help="per request, on 429, 503 or no answer")
    parser.add_argument("--token-file", type=Path, help="else the BORDERWATCH_TOKEN variable")
    parser.add_argument("--cafile", type=Path, help="a CA or the worker's own certificate, for https")
    args = parser.parse_args(argv)
    token = (
        args.token_file.read_text().strip() if args.token_file else os.environ.get("BORDERWATCH_TOKEN", "")
    )
    if not token:
        parser.error("give the centre's token in BORDERWATCH_TOKEN or --token-file")
    if not 1 <= args.batch <= 10_000 or args.retries < 0:
        parser.error("--batch is 1 to 10,000 and --retries 0 or more")
    tls = ssl.create_default_context(cafile=str(args.cafile)) if args.cafile else None
    target, tally = Target(args.url, token, args.kind, tls), Tally()
    handle = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    try:
        for batch in batches(numbered_lines(handle), args.batch):
            report_results(batch, send_batch(target, batch, args.retries, tally), tally)
    except GaveUpError as error:
        print(f"error: {error}", file=sys.stderr)
        print(tally.summary())
        return 2
    finally:
        handle.close()
    print(tally.summary())
    return 1 if tally.results["rejected"] else 0


if __name__ == "__main__":
    sys.exit(main())
