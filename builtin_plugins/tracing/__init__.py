"""OpenTelemetry traces, off by default: ``[tracing] enabled`` exports one span per request
(``POST /api/v1/chat/completions``, named by the route template) with children for
authentication, exchange guards, chat filters, each provider attempt, response verification
and RAG retrieval, over OTLP/HTTP. An incoming W3C ``traceparent`` is continued and the
current one is sent to providers; JSON log lines carry the ``trace_id``.

Hot-path code calls only :mod:`kernel.tracing`; while tracing is off the kernel's tracer is
the shared no-op one, so a span costs one call returning a ``nullcontext``.
"""

from __future__ import annotations

from builtin_plugins.tracing.runtime import SECTION, TracingRuntime
from builtin_plugins.tracing.settings import TracingSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import Service
from kernel.tracing import Tracer
from kernel.types import SettingsSection

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "tracing"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[tracing]`` section (``ENCLAVA_TRACING_*``)."""
    return SettingsSection(name=SECTION, schema=TracingSettings)


@hookimpl
async def enclava_startup(kernel: Kernel) -> None:
    """Build the tracer provider; enabled without an endpoint refuses to start."""
    TracingRuntime.of(kernel).start()


@hookimpl
async def enclava_shutdown(kernel: Kernel) -> None:
    await TracingRuntime.of(kernel).stop()


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    """The :class:`~kernel.tracing.Tracer` while ``enabled`` (else the kernel's no-op one)."""
    tracer = TracingRuntime.of(kernel).tracer()
    return [] if tracer is None else [Service(contract=Tracer, implementation=tracer)]
