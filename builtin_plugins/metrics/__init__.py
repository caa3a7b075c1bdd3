"""Prometheus metrics: ``GET /metrics`` while ``metrics.enabled`` (bearer ``metrics.token``),
and ``GET /api/v1/providers/status`` with its admin twin (always).

Counted as things happen: every routed request (a request observer the gate calls when the
response is complete), every model call (a usage sink: duration, time to first token, tokens,
spend), refusals by rate limit or budget, and what others report to the
:class:`~kernel.observe.Meter` service (sandboxed plugin calls, RAG ingest jobs and queries, the
usage-queue depth). Read at each scrape: provider health, circuit state and attestation.
Labels never carry user data: routes are templates, models and providers are the ones the
deployment serves (else ``other``). While disabled, no observer is registered, no meter is
published and the hot path does not read the clock.
"""

from __future__ import annotations

from builtin_plugins.metrics.routes import ROOT_ROUTES
from builtin_plugins.metrics.runtime import SECTION, MetricsRuntime
from builtin_plugins.metrics.settings import MetricsSettings
from builtin_plugins.metrics.status import INTERNAL_ROUTES, PUBLIC_ROUTES
from kernel.exchange import UsageSink
from kernel.hookspecs import hookimpl
from kernel.observe import Meter, RequestObserver
from kernel.runtime import Kernel
from kernel.services import Service
from kernel.types import RouteSet, SettingsSection

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "metrics"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[metrics]`` section (``ENCLAVA_METRICS_*``)."""
    return SettingsSection(name=SECTION, schema=MetricsSettings)


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    """``/metrics``, and the provider status on both surfaces."""
    return RouteSet(root=ROOT_ROUTES, public=PUBLIC_ROUTES, internal=INTERNAL_ROUTES)


def _enabled(kernel: Kernel) -> bool:
    return kernel.settings.section(SECTION, MetricsSettings).enabled


@hookimpl
def enclava_request_observers(kernel: Kernel) -> list[RequestObserver]:
    return [MetricsRuntime.of(kernel).observer] if _enabled(kernel) else []


@hookimpl
def enclava_usage_sinks(kernel: Kernel) -> list[UsageSink]:
    """The providers' last errors always (provider status); counters while enabled."""
    runtime = MetricsRuntime.of(kernel)
    return [runtime.last_errors, *([runtime.usage] if _enabled(kernel) else [])]


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    """The :class:`~kernel.observe.Meter` while enabled (else the kernel's no-op one)."""
    if not _enabled(kernel):
        return []
    return [Service(contract=Meter, implementation=MetricsRuntime.of(kernel).meter)]
