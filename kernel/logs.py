"""Log output: the text format, or one JSON object per line (``server.log_format = "json"``).

JSON lines carry ``time``, ``level``, ``logger``, ``message``, the ``request_id`` of the request
being served (the gate sets it in a context variable, so it follows the request's task), its
``trace_id`` while tracing is on (the W3C trace id of the request's span) and, for errors, the
exception's type and traceback. A record may carry structured fields (its ``enclava_fields``, a
named tuple of ids, numbers and route templates): they become top-level keys, as the access
log's ``method``, ``route``, ``status``, ``duration_ms``, ``principal_kind`` and ``principal_id``
(:mod:`kernel.access_log`). Enclava never logs prompt or completion text, query strings or
headers; the formatter adds no request data beyond these.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "FIELDS",
    "OWN_LOGGERS",
    "REQUEST_ID",
    "TEXT_FORMAT",
    "TRACE_ID",
    "JsonFormatter",
    "LogFormat",
    "RequestIdFilter",
    "logging_config",
    "new_request_id",
]

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "enclava_request_id", default=None
)
"""The id of the request the current task serves (set by :func:`kernel.gate.gate`)."""


def new_request_id() -> str:
    """A fresh request id: ``req_`` and 32 random hex digits."""
    return "req_" + os.urandom(16).hex()


TRACE_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "enclava_trace_id", default=None
)
"""The trace id of the request the current task serves, while tracing is on (set by the gate)."""
FIELDS = "enclava_fields"
"""The record attribute of structured fields: a named tuple, written as top-level JSON keys."""
OWN_LOGGERS = ("kernel", "builtin_plugins", "enclava")
"""Enclava's loggers: its packages, and ``enclava.access`` (:mod:`kernel.access_log`)."""


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``record.request_id``, None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a record's message arguments are rendered as the text
    formatter would, never attached raw."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        trace_id = TRACE_ID.get()
        if trace_id:
            entry["trace_id"] = trace_id
        fields = getattr(record, FIELDS, None)
        if fields is not None:
            entry.update(zip(fields._fields, fields, strict=True))
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = {
                "type": record.exc_info[0].__name__,
                "traceback": self.formatException(record.exc_info),
            }
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(
    log_format: LogFormat, *, root_level: int = logging.WARNING, own_level: int = logging.INFO
) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the server: every logger (uvicorn's too) through
    one stderr handler in ``log_format``; libraries at ``root_level``, Enclava's own loggers
    (:data:`OWN_LOGGERS`) at ``own_level``. Passed to uvicorn, which applies it in
    each worker process too."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"enclava": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "enclava",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": logging.getLevelName(root_level)},
        "loggers": {
            **{name: {"level": logging.getLevelName(own_level)} for name in OWN_LOGGERS},
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
        },
    }
