"""Capturing this process's log records as JSON lines (``server.log_format = "json"``), and a
plugin whose route always fails (so an exception is logged), for the log and tracing tests."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

from litestar import get

from kernel.hookspecs import hookimpl
from kernel.logs import JsonFormatter, RequestIdFilter
from kernel.runtime import Kernel
from kernel.types import RouteSet

__all__ = ["Boom", "json_entries", "json_log_lines"]


@contextlib.contextmanager
def json_log_lines() -> Iterator[io.StringIO]:
    """Every log record of this process, at DEBUG, as the JSON formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def json_entries(stream: io.StringIO) -> list[dict[str, Any]]:
    """The captured lines, each parsed as one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


class Boom:
    """``GET /boom`` raises ``RuntimeError("kaputt")`` (a 500 and a logged exception)."""

    PLUGIN_NAME = "boom"

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        @get("/boom", sync_to_thread=False)
        def boom() -> None:
            raise RuntimeError("kaputt")

        return RouteSet(root=[boom])
