"""Worker logs: JSON lines or text, and Faust's ASCII tables only when asked."""

from __future__ import annotations

import json
import logging
import logging.config

import faust.worker  # noqa: F401  # registers Faust's table formatting of log arguments
from aiokafka import TopicPartition

from streams.config.settings import LogFormat, LogLevel
from streams.worker.logs import logging_config


def formatter(fmt: LogFormat, tables: bool = False) -> logging.Formatter:
    config = logging_config(fmt, LogLevel.INFO, tables)
    made = logging.config.DictConfigurator(config).configure_formatter(config["formatters"]["borderwatch"])
    assert isinstance(made, logging.Formatter)
    return made


def assignment_record() -> logging.LogRecord:
    """A record as Faust logs a partition assignment (its formatter makes it a table)."""
    parts = {TopicPartition("reports.interceptions", 0), TopicPartition("reports.vessels", 1)}
    return logging.LogRecord("faust.worker", logging.INFO, __file__, 1, "Assigned: %s", (parts,), None)


def test_a_json_line_carries_level_logger_message_and_the_traceback() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        import sys

        exc = sys.exc_info()
    record = logging.LogRecord("streams.x", logging.ERROR, __file__, 1, "batch %d failed", (7,), exc)
    line = formatter(LogFormat.JSON).format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "error" and parsed["logger"] == "streams.x"
    assert parsed["message"] == "batch 7 failed"
    assert "ValueError: broken" in parsed["exception"]


def test_faust_tables_are_off_unless_asked() -> None:
    plain = formatter(LogFormat.TEXT).format(assignment_record())
    assert "\n" not in plain and "reports.vessels" in plain
    tabled = formatter(LogFormat.TEXT, tables=True).format(assignment_record())
    assert "\n" in tabled and "reports.vessels" in tabled
    assert "\n" not in formatter(LogFormat.JSON, tables=True).format(assignment_record())
