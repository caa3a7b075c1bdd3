"""The access log: one ``enclava.access`` record (INFO) per routed request, when its response is
complete — a stream when its last chunk is sent, or when its client goes away before that
(error code ``client_closed``) — while ``server.access_log`` is on and ``server.log_level`` is
``info`` or ``debug`` (the level uvicorn's access log, now always off, followed).

A record carries the method, the route template (``/api/v1/models/{model_id}``, never the raw
path), the status, the duration in milliseconds (from the gate to the response's end), the
principal's kind (``api_key``, ``user``, ``plugin``, or ``anonymous``) and id (a key, user or
plugin id; never an email or a secret), the request id and the gateway's error code, if any.
Never a query string, a header or a body. In JSON these are top-level keys (the record's
``enclava_fields``, :mod:`kernel.logs`); as text the message reads
``POST /api/v1/chat/completions 200 12.3ms principal=api_key:KEY_ID request_id=req_…``.

A request that never reached the gate (no route matched: ``route`` is ``unmatched``; or its
plugin is disabled) is logged too, anonymous and with ``duration_ms`` null.

The gate reads the clock only when the access log is on and ``enclava.access`` logs at INFO (or a
request observer exists); nothing is built for a record the logger would drop.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from kernel.types import RequestContext

__all__ = ["ACCESS_LOGGER", "AccessEntry", "access_logging", "log_access", "log_unrouted"]

ACCESS_LOGGER = "enclava.access"
_log = logging.getLogger(ACCESS_LOGGER)
_INFO = logging.INFO


class AccessEntry(NamedTuple):
    """One request's access record: ids, numbers and the route template only."""

    method: str
    route: str
    status: int
    duration_ms: float | None
    """None for a request the gate never saw (:func:`log_unrouted`): no clock was read."""
    principal_kind: str
    principal_id: str | None
    request_id: str
    error_code: str | None

    def __str__(self) -> str:
        principal = self.principal_kind
        if self.principal_id is not None:
            principal = f"{principal}:{self.principal_id}"
        took = "-" if self.duration_ms is None else f"{self.duration_ms:.1f}ms"
        line = (
            f"{self.method} {self.route} {self.status} {took}"
            f" principal={principal} request_id={self.request_id}"
        )
        return line if self.error_code is None else f"{line} error={self.error_code}"


def access_logging(setting: bool) -> bool:
    """Whether a request gets an access record: the settings say so (``setting``:
    ``ServerSettings.logs_access``) and ``enclava.access`` is enabled at INFO."""
    return setting and _log.isEnabledFor(_INFO)


def log_access(ctx: RequestContext, method: str, route: str, seconds: float) -> None:
    """Log the access record of the request ``ctx`` describes, its response complete after
    ``seconds``; nothing when ``enclava.access`` does not log at INFO."""
    if not _log.isEnabledFor(_INFO):
        return
    principal = ctx.principal
    entry = AccessEntry(
        method,
        route,
        ctx.status,
        round(seconds * 1000, 3),
        "anonymous" if principal is None else principal.kind,
        None if principal is None else principal.id,
        ctx.request_id,
        ctx.error_code,
    )
    _emit(entry)


def log_unrouted(method: str, route: str, request_id: str, status: int) -> None:
    """Log the access record of a request the gate never saw: no route matched (``route`` is
    then ``unmatched``) or the route's plugin is disabled; anonymous, with no duration."""
    if _log.isEnabledFor(_INFO):
        _emit(AccessEntry(method, route, status, None, "anonymous", None, request_id, None))


def _emit(entry: AccessEntry) -> None:
    # makeRecord + handle, not info(): no caller lookup (a stack walk) and no ``extra`` dict.
    record = _log.makeRecord(ACCESS_LOGGER, _INFO, __file__, 0, "%s", (entry,), None, "access")
    record.enclava_fields = entry
    _log.handle(record)
