"""Per-kernel state of the tracing plugin: the ``TracerProvider`` built from ``[tracing]``.

Built at startup (and again when the section changes at runtime), shut down (flushing what
is still batched) at shutdown. ``use_exporter`` is the seam for another exporter than OTLP —
the tests' in-memory one, or a benchmark's — and must be called before the plugin starts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from builtin_plugins.tracing.settings import TracingSettings
from kernel.errors import ConfigError
from kernel.runtime import Kernel
from kernel.stash import StashKey

if TYPE_CHECKING:  # OpenTelemetry (~10 MiB) loads only when tracing is enabled
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from builtin_plugins.tracing.tracer import OtelTracer

__all__ = ["SECTION", "TracingRuntime"]

SECTION = "tracing"
log = logging.getLogger(__name__)
_RUNTIME: StashKey[TracingRuntime] = StashKey()


class TracingRuntime:
    """Created on first use and kept in the kernel's stash (never at module level)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._exporter: SpanExporter | None = None
        self._built: TracingSettings | None = None
        self._provider: TracerProvider | None = None
        self._tracer: OtelTracer | None = None
        self._started = False

    @classmethod
    def of(cls, kernel: Kernel) -> TracingRuntime:
        runtime = kernel.stash.get(_RUNTIME)
        if runtime is None:
            runtime = kernel.stash[_RUNTIME] = cls(kernel)
        return runtime

    @property
    def settings(self) -> TracingSettings:
        return self.kernel.settings.section(SECTION, TracingSettings)

    def use_exporter(self, exporter: SpanExporter) -> None:
        """Export to ``exporter`` instead of OTLP (then ``otlp_endpoint`` may stay empty)."""
        self._exporter = exporter

    def _exporter_for(self, settings: TracingSettings) -> SpanExporter:
        if self._exporter is not None:
            return self._exporter
        if not settings.otlp_endpoint:
            raise ConfigError(
                "tracing.enabled is true but tracing.otlp_endpoint is empty: set"
                " ENCLAVA_TRACING_OTLP_ENDPOINT (OTLP over HTTP, e.g."
                " http://collector:4318/v1/traces) or ENCLAVA_TRACING_ENABLED=false"
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otlp_endpoint)

    def start(self) -> None:
        """Build the provider at plugin start (ConfigError when the settings are incomplete)."""
        self._started = True
        self.build()

    def build(self) -> None:
        """(Re)build the provider for the current settings (ConfigError when incomplete)."""
        settings = self.settings
        if settings == self._built and (self._provider is not None or not settings.enabled):
            return
        old = self._provider
        self._provider = self._tracer = None
        self._built = settings
        if old is not None:  # flushing may wait on the network: not on the event loop
            threading.Thread(target=old.shutdown, name="tracing-shutdown", daemon=True).start()
        if not settings.enabled:
            return
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        from builtin_plugins.tracing.tracer import OtelTracer

        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: settings.service_name}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        provider.add_span_processor(BatchSpanProcessor(self._exporter_for(settings)))
        self._provider = provider
        self._tracer = OtelTracer(provider)

    def tracer(self) -> OtelTracer | None:
        """The tracer for the current settings; None while ``enabled`` is false. A runtime
        change that no longer builds keeps tracing off (logged) rather than failing. Nothing is
        built before the plugin starts (CLI commands look services up without starting)."""
        if not self._started:
            return None
        try:
            self.build()
        except ConfigError as exc:
            log.error("tracing stays off: %s", exc)
            return None
        return self._tracer

    def flush(self) -> bool:
        """Export every finished span now (the batch processor otherwise waits ~5 s)."""
        return self._provider.force_flush() if self._provider is not None else True

    async def stop(self) -> None:
        """Flush and shut the provider down (in a thread: an exporter may block on I/O)."""
        provider, self._provider, self._tracer, self._built = self._provider, None, None, None
        self._started = False
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)
