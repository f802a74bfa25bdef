"""Replay: which lines of a file to send, before they reach the broker.

A line that is no JSON object (a CSV row, a truncated line) is malformed; a JSON object that carries
only the other report kind's own fields (an interception report's `incident_type` and `persons` on the
vessels topic) belongs on the other topic. Both are skipped and counted rather than sent: the worker
would refuse them anyway, each into dlq with a reason, and a count with line numbers at the end of the
replay tells the sender more. Anything else is sent as written, and the worker validates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import orjson

from schemas.events import ReportKind
from schemas.reports import InterceptionReport, VesselReport

_INTERCEPTION, _VESSEL = frozenset(InterceptionReport.model_fields), frozenset(VesselReport.model_fields)
_OWN_FIELDS = {ReportKind.INTERCEPTION: _INTERCEPTION - _VESSEL, ReportKind.VESSEL: _VESSEL - _INTERCEPTION}
_OTHER = {ReportKind.INTERCEPTION: ReportKind.VESSEL, ReportKind.VESSEL: ReportKind.INTERCEPTION}
SHOWN_LINES = 5  # line numbers listed per kind of problem at the end


class LineVerdict(StrEnum):
    """What replay does with a line."""

    SEND = "send"
    MALFORMED = "malformed"
    WRONG_TOPIC = "wrong_topic"


def check_line(line: bytes, kind: ReportKind) -> LineVerdict:
    """Whether a line goes to the topic of reports of `kind` (see the module's docstring)."""
    try:
        report = orjson.loads(line)
    except orjson.JSONDecodeError:
        return LineVerdict.MALFORMED
    if not isinstance(report, dict):
        return LineVerdict.MALFORMED
    keys = report.keys()
    if _OWN_FIELDS[_OTHER[kind]] & keys and not _OWN_FIELDS[kind] & keys:
        return LineVerdict.WRONG_TOPIC
    return LineVerdict.SEND


@dataclass
class ReplayTally:
    """Lines seen so far by verdict, and the first few line numbers (from 1) of each problem."""

    kind: ReportKind
    sent: int = 0
    malformed: list[int] = field(default_factory=list)
    wrong_topic: list[int] = field(default_factory=list)
    malformed_count: int = 0
    wrong_topic_count: int = 0

    def admit(self, number: int, line: bytes) -> bool:
        """Count a line; True when it is to be sent."""
        verdict = check_line(line, self.kind)
        if verdict is LineVerdict.SEND:
            self.sent += 1
            return True
        if verdict is LineVerdict.MALFORMED:
            self.malformed_count += 1
            if len(self.malformed) < SHOWN_LINES:
                self.malformed.append(number)
        else:
            self.wrong_topic_count += 1
            if len(self.wrong_topic) < SHOWN_LINES:
                self.wrong_topic.append(number)
        return False

    def summary(self, topic: str, other_topic: str) -> list[str]:
        """The lines to print at the end: how many were sent, skipped and malformed, and where to look."""
        lines = [
            f"sent {_lines(self.sent)} to {topic}; skipped {_lines(self.wrong_topic_count)} for "
            f"{other_topic} ({_OTHER[self.kind].value} reports) and "
            f"{_lines(self.malformed_count, 'malformed ')} (no JSON object)"
        ]
        for count, numbers, what in ((self.wrong_topic_count, self.wrong_topic, f"for {other_topic}"),
                                     (self.malformed_count, self.malformed, "malformed")):  # fmt: skip
            if count:
                more = f" and {count - len(numbers)} more" if count > len(numbers) else ""
                lines.append(f"  {what}: line {', '.join(map(str, numbers))}{more}")
        return lines


def _lines(count: int, adjective: str = "") -> str:
    return f"{count} {adjective}line" if count == 1 else f"{count} {adjective}lines"
