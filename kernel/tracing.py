"""The tracing seam: what the hot path calls to open spans, at near-zero cost while tracing is off.

The plugin ``tracing`` publishes a :class:`Tracer` (a ``Service``) while ``[tracing].enabled``;
the kernel puts it in ``kernel.components.tracer``, else :data:`NO_TRACER`. Code on the hot path
calls only this module's contract, never the plugin: ``with kernel.components.tracer.span("auth"):``
costs one method call returning a shared :class:`contextlib.nullcontext` while tracing is off.

Span attributes never carry prompt or completion text, key ids, user ids or e-mails: only route
templates, provider and model names, counters and outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, runtime_checkable

__all__ = [
    "NO_SPAN",
    "NO_TRACER",
    "TRACE_STATE",
    "AttributeValue",
    "NoTracer",
    "RequestTrace",
    "SpanHandle",
    "Tracer",
    "TracerSource",
    "no_tracer",
]

AttributeValue = str | bool | int | float
TRACE_STATE = "kernel.tracing.request"
"""Key of the request's :class:`RequestTrace` in ``RequestContext.state`` (set by the gate)."""


@runtime_checkable
class SpanHandle(Protocol):
    """The open span a ``with tracer.span(...) as span`` block may annotate."""

    def set_attribute(self, key: str, value: AttributeValue) -> None: ...


@runtime_checkable
class RequestTrace(Protocol):
    """The root span of one HTTP request; the gate ends it when the response is complete."""

    @property
    def trace_id(self) -> str:
        """The W3C trace id (32 hex digits), also written on JSON log lines."""
        ...

    def end(self, status: int, error_code: str | None) -> None: ...


@runtime_checkable
class Tracer(Protocol):
    """Opens spans as children of the current one (contextvars follow the request's task)."""

    @property
    def enabled(self) -> bool: ...

    def span(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[SpanHandle]:
        """A child span of the current span, current inside the ``with`` block; an exception
        leaving the block is recorded and marks the span as an error."""
        ...

    def begin_request(self, method: str, route: str, headers: Mapping[str, str]) -> RequestTrace:
        """Start the request's root span (continuing an incoming W3C ``traceparent``) and make
        it current for the rest of the request's task."""
        ...

    def inject(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        """``headers`` plus ``traceparent``/``tracestate`` of the current span (for upstream
        calls); ``headers`` itself when there is nothing to add."""
        ...


class _NoSpan:
    __slots__ = ()

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None


class _NoRequest:
    __slots__ = ()

    @property
    def trace_id(self) -> str:
        return ""

    def end(self, status: int, error_code: str | None) -> None:
        return None


NO_SPAN: SpanHandle = _NoSpan()
_NO_SPAN_BLOCK: AbstractContextManager[SpanHandle] = nullcontext(NO_SPAN)  # stateless, reusable
_NO_REQUEST = _NoRequest()


class NoTracer:
    """Tracing off: every span is the same shared no-op context manager."""

    __slots__ = ()

    @property
    def enabled(self) -> bool:
        return False

    def span(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[SpanHandle]:
        return _NO_SPAN_BLOCK

    def begin_request(self, method: str, route: str, headers: Mapping[str, str]) -> RequestTrace:
        return _NO_REQUEST

    def inject(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        return headers


NO_TRACER: Tracer = NoTracer()


def no_tracer() -> Tracer:
    """The tracer of code that has no kernel (a provider built outside one)."""
    return NO_TRACER


TracerSource = Callable[[], Tracer]
