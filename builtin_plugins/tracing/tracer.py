"""The :class:`kernel.tracing.Tracer` backed by an OpenTelemetry SDK ``TracerProvider``.

The provider is this plugin's own object (never installed as the global one); only the current
span travels in OpenTelemetry's context variable, which follows each request's task.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kernel.observe import CLIENT_CLOSED
from kernel.tracing import AttributeValue, RequestTrace, SpanHandle

__all__ = ["OtelTracer"]

_INSTRUMENTATION = "enclava"


class _RequestSpan:
    """The root span of one request: status error from 500, and when the client went away
    before the last body chunk (error code ``client_closed``)."""

    __slots__ = ("_span", "trace_id")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self.trace_id = trace.format_trace_id(span.get_span_context().trace_id)

    def end(self, status: int, error_code: str | None) -> None:
        span = self._span
        if status:
            span.set_attribute("http.status_code", status)
        if error_code:
            span.set_attribute("enclava.error_code", error_code)
        if error_code == CLIENT_CLOSED:
            span.set_status(StatusCode.ERROR, "the client closed the connection mid-response")
        elif status >= 500:
            span.set_status(StatusCode.ERROR)
        span.end()


class OtelTracer:
    """Spans of one ``TracerProvider``; W3C trace context in and out."""

    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer(_INSTRUMENTATION)
        self._propagator = TraceContextTextMapPropagator()

    @property
    def enabled(self) -> bool:
        return True

    def span(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[SpanHandle]:
        return self._span(name, attributes)

    @contextmanager
    def _span(self, name: str, attributes: Mapping[str, AttributeValue]) -> Iterator[SpanHandle]:
        # An exception's message may echo client input: only its type is recorded.
        with self._tracer.start_as_current_span(
            name,
            attributes=attributes or None,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(StatusCode.ERROR)
                raise

    def begin_request(self, method: str, route: str, headers: Mapping[str, str]) -> RequestTrace:
        parent = self._propagator.extract(headers)
        span = self._tracer.start_span(
            f"{method} {route}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.method": method, "http.route": route},
        )
        # Current for the rest of this request's task; the task ends with the request, so the
        # context is never detached into another request.
        otel_context.attach(trace.set_span_in_context(span, parent))
        return _RequestSpan(span)

    def inject(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return {**headers, **carrier} if carrier else headers
