"""Worker logs: one format for borderwatch's own lines and Faust's, text or JSON lines, at one level.

Faust's own log formatter turns partition sets and subscriptions into ASCII
tables of many lines each; a log shipper reads them as many records. They are
kept only when asked (BORDERWATCH_LOG_TABLES) in the text format.
"""

from __future__ import annotations

import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from schemas.codec import encode_obj
from streams.config.settings import LogFormat, LogLevel

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return encode_obj(line).decode()


def logging_config(fmt: LogFormat, level: LogLevel, tables: bool = False) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the root logger, written to stderr; given to Faust as well."""
    if fmt is LogFormat.JSON:
        formatter: dict[str, Any] = {"()": JsonLineFormatter}
    elif tables:
        formatter = {"()": "mode.utils.logging.ExtensionFormatter", "format": TEXT_FORMAT}
    else:
        formatter = {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,  # the audit log keeps its own handler
        "formatters": {"borderwatch": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "borderwatch", "stream": "ext://sys.stderr"}
        },
        "root": {"level": level.value.upper(), "handlers": ["stderr"]},
    }


def configure_logging(fmt: LogFormat, level: LogLevel, tables: bool = False) -> dict[str, Any]:
    """Set the root logger up now (for start-up's lines) and return the config for `faust.Worker`."""
    config = logging_config(fmt, level, tables)
    logging.config.dictConfig(config)
    return config
