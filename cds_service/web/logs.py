"""Structured logs: one JSON object per line, never tokens or patient data.

Only the fields named in SAFE_FIELDS are copied from a record's `extra`; messages are fixed
texts with field paths and counts, never request values.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

SAFE_FIELDS = (
    "service",
    "hook_instance",
    "status",
    "cards",
    "duration_ms",
    "reason",
    "paths",
)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else "unknown"
        return json.dumps(entry, default=str)


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for the service and gunicorn: JSON on stderr; urllib3 quiet (URLs carry ids)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "urllib3": {"level": "WARNING"},
        },
    }
