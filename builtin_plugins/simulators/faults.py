"""Fault injection shared by both simulators: one typed config, one aiohttp middleware.

Set at start (``enclava simulate ... --latency-ms 200 --fail-status 503``) or at runtime
(``POST /_sim/faults`` with the JSON of :class:`FaultConfig`, which replaces the whole config).
Every request outside ``/_sim/`` is logged first (``GET /_sim/requests``), so retries and
"never reached" can be counted even for requests that then fail.

Order for a targeted request: latency, then at most one failure. A failure is, by precedence:
``reset`` (close the socket with an RST, no response), ``status`` (error body in the
simulator's own shape, ``Retry-After`` on 429), and then, for streaming requests, the in-stream
faults applied by :class:`~builtin_plugins.simulators.sse.SseWriter` (``malformed`` first frame,
``tamper``, ``break_after``, ``stall_after``); for non-streaming ones ``stall_after`` hangs before
any byte and ``malformed`` / ``tamper`` rewrite the finished body. ``fail_times`` = N fails the
first N targeted requests after the config was set, then lets requests through. ``longest`` and
``overrun`` are no failures: they shape every targeted chat answer (:data:`LENGTH_KEY`).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import socket
import struct
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from builtin_plugins.simulators.content import NATURAL, AnswerLength

__all__ = [
    "CONTROL_PREFIX",
    "FAULT_KEY",
    "LENGTH_KEY",
    "ErrorRenderer",
    "FaultConfig",
    "FaultState",
    "RequestRecord",
    "abort_connection",
    "decode_fault_config",
    "fault_middleware",
    "hang_until_client_leaves",
    "tamper_bytes",
]

CONTROL_PREFIX = "/_sim/"
HANG_LIMIT_SECONDS = 600.0


class FaultConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What goes wrong, for which paths, how often. The default injects nothing.

    ``latency_ms``: delay before every targeted request is handled. ``status``: answer with this
    4xx/5xx in the simulator's own error shape (``message`` overrides its text; ``retry_after``
    seconds go in ``Retry-After``, 1 by default on 429). ``reset``: RST the connection, no
    response. ``stall_after`` K: streams send K frames then go silent until the client leaves;
    other requests go silent before any byte. ``break_after`` K: streams send K frames, then
    end the provider's way (RedPill: in-band error then ``[DONE]``; Privatemode: the
    connection drops). ``malformed``: truncated JSON (the first frame of a stream).
    ``tamper``: one byte changed after signing. ``fail_times`` N: only the first N targeted
    requests fail. ``longest``: every chat choice uses all the tokens the request allows
    (``max_tokens``, else a fixed long answer); ``overrun`` N: N tokens beyond that, ignoring
    ``max_tokens`` (see :class:`~.content.AnswerLength`). ``frame_interval_ms``: pause before
    every stream frame after the first, like a model generating tokens (no fault by itself).
    ``paths``: path prefixes targeted; empty means every path but ``/_sim/``.
    """

    latency_ms: int = 0
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    reset: bool = False
    stall_after: int | None = None
    break_after: int | None = None
    malformed: bool = False
    tamper: bool = False
    fail_times: int | None = None
    longest: bool = False
    overrun: int = 0
    frame_interval_ms: int = 0
    paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        counts = (
            self.latency_ms,
            self.retry_after,
            self.stall_after,
            self.break_after,
            self.fail_times,
            self.overrun,
            self.frame_interval_ms,
        )
        if any(v is not None and v < 0 for v in counts):
            raise ValueError(
                "latency_ms, retry_after, stall_after, break_after, fail_times, overrun are >= 0"
            )

    @property
    def length(self) -> AnswerLength:
        """How long targeted chat answers are."""
        if not self.longest and not self.overrun:
            return NATURAL
        return AnswerLength(longest=self.longest, overrun=self.overrun)

    @property
    def failing(self) -> bool:
        """True when a targeted request would fail (beyond mere latency or answer length)."""
        stream_faults = (self.stall_after, self.break_after)
        flags = (self.reset, self.malformed, self.tamper)
        return self.status is not None or any(flags) or any(v is not None for v in stream_faults)


class RequestRecord(msgspec.Struct, frozen=True):
    """One request as received: enough to count retries and see which model was asked for and
    how long an answer (``max_completion_tokens``, else ``max_tokens``; None when neither)."""

    method: str
    path: str
    query: str
    body_sha256: str
    model: str | None
    stream: bool
    headers: dict[str, str]
    received_at: float
    max_tokens: int | None = None


class FaultState:
    """The live fault config and the request log of one simulator instance."""

    def __init__(self, config: FaultConfig | None = None, log_size: int = 10_000) -> None:
        self._config = config or FaultConfig()
        self._failed = 0
        self._log: collections.deque[RequestRecord] = collections.deque(maxlen=log_size)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def set(self, config: FaultConfig) -> None:
        """Replace the config; ``fail_times`` counts again from zero."""
        self._config, self._failed = config, 0

    def targets(self, path: str) -> bool:
        """Whether the current config applies to ``path`` (control routes never)."""
        if path.startswith(CONTROL_PREFIX):
            return False
        return not self._config.paths or any(path.startswith(p) for p in self._config.paths)

    def take_failure(self, path: str) -> FaultConfig | None:
        """The config when this request must fail, counting it against ``fail_times``."""
        config = self._config
        if not config.failing or not self.targets(path):
            return None
        if config.fail_times is not None and self._failed >= config.fail_times:
            return None
        self._failed += 1
        return config

    def record(self, entry: RequestRecord) -> None:
        self._log.append(entry)

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self._log)

    def clear_requests(self) -> None:
        self._log.clear()


FAULT_KEY = web.RequestKey("enclava_sim_fault", FaultConfig)
"""Set on a streaming request whose stream must misbehave; read by the SSE writer."""
LENGTH_KEY = web.RequestKey("enclava_sim_length", AnswerLength)
"""Set on every targeted request while ``longest`` or ``overrun`` is on; read by chat handlers."""

ErrorRenderer = Callable[[web.Request, int, str | None, Mapping[str, str]], web.StreamResponse]
"""``(request, status, message or None for the provider's default, extra headers)``."""


class _Described(msgspec.Struct):
    model: str | None
    stream: bool
    max_tokens: int | None


def _describe(body: bytes) -> _Described:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return _Described(None, False, None)
    model = parsed.get("model")
    limit = parsed.get("max_completion_tokens", parsed.get("max_tokens"))
    return _Described(
        model if isinstance(model, str) else None,
        parsed.get("stream") is True,
        limit if isinstance(limit, int) else None,
    )


def _record(request: web.Request, body: bytes, described: _Described) -> RequestRecord:
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"}
    return RequestRecord(
        method=request.method,
        path=request.path,
        query=request.query_string,
        body_sha256=hashlib.sha256(body).hexdigest(),
        model=described.model or request.query.get("model"),
        stream=described.stream,
        headers=headers,
        received_at=time.time(),
        max_tokens=described.max_tokens,
    )


def abort_connection(request: web.Request) -> None:
    """Close the client connection with a TCP RST, sending nothing more."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def hang_until_client_leaves(request: web.Request, limit: float = HANG_LIMIT_SECONDS) -> None:
    """Send nothing until the client closes the connection (or ``limit`` seconds pass)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)


def tamper_bytes(data: bytes) -> bytes:
    """``data`` with one byte changed, still valid JSON: the ``created`` timestamp's first digit.

    Falls back to a space before the last ``}`` when there is no ``created`` member.
    """
    marker = data.find(b'"created":')
    if marker >= 0:
        at = marker + len(b'"created":')
        while at < len(data) and data[at : at + 1] == b" ":
            at += 1
        if data[at : at + 1].isdigit():
            digit = b"%d" % ((int(data[at : at + 1]) % 9) + 1)
            return data[:at] + digit + data[at + 1 :]
    end = data.rfind(b"}")
    return data[:end] + b" " + data[end:] if end >= 0 else data + b" "


def _malformed(data: bytes) -> bytes:
    return data[: max(len(data) // 2, 1)] if data else b"{"


async def _fail_whole_response(
    request: web.Request, handler: Handler, fault: FaultConfig
) -> web.StreamResponse:
    if fault.stall_after is not None:
        await hang_until_client_leaves(request)
        return web.Response(status=204)
    response = await handler(request)
    rewrite = fault.malformed or fault.tamper
    if not rewrite or not isinstance(response, web.Response):
        return response
    if not isinstance(response.body, bytes):
        return response
    body = _malformed(response.body) if fault.malformed else tamper_bytes(response.body)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return web.Response(status=response.status, body=body, headers=headers)


def _error_headers(fault: FaultConfig) -> dict[str, str]:
    if fault.retry_after is not None:
        return {"Retry-After": str(fault.retry_after)}
    return {"Retry-After": "1"} if fault.status == 429 else {}


def fault_middleware(state: FaultState, render: ErrorRenderer) -> Middleware:
    """The middleware that logs every non-control request and injects ``state``'s faults."""

    @web.middleware
    async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        body = await request.read()
        described = _describe(body)
        stream = described.stream
        state.record(_record(request, body, described))
        if not state.targets(request.path):
            return await handler(request)
        if state.config.length is not NATURAL:
            request[LENGTH_KEY] = state.config.length
        if state.config.latency_ms:
            await asyncio.sleep(state.config.latency_ms / 1000)
        fault = state.take_failure(request.path)
        if fault is None:
            if stream and state.config.frame_interval_ms:
                request[FAULT_KEY] = FaultConfig(frame_interval_ms=state.config.frame_interval_ms)
            return await handler(request)
        if fault.reset:
            abort_connection(request)
            return web.Response(status=204)
        if fault.status is not None:
            return render(request, fault.status, fault.message, _error_headers(fault))
        if stream:
            request[FAULT_KEY] = fault
            return await handler(request)
        return await _fail_whole_response(request, handler, fault)

    return inject_faults


def decode_fault_config(data: bytes | Mapping[str, Any]) -> FaultConfig:
    """A :class:`FaultConfig` from JSON bytes or a mapping (raises ``msgspec.ValidationError``)."""
    if isinstance(data, bytes):
        return msgspec.json.decode(data or b"{}", type=FaultConfig)
    return msgspec.convert(dict(data), type=FaultConfig)
