"""A running gateway with tracing on (or off) and an in-memory span exporter, in front of the
Privatemode simulator, for the tracing tests (tests/builtin_plugins/tracing, fixture ``traced``).

The exporter is given to the real plugin through its seam (``TracingRuntime.use_exporter``)
before the app starts; everything else — gate, llm, providers — runs as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import msgspec
from litestar import Litestar
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator
from builtin_plugins.tracing.runtime import TracingRuntime
from kernel.app import create_app
from kernel.plugins import PluginManager
from kernel.runtime import Kernel
from support.gateway import _api_key, provider_env
from support.server import serving

__all__ = ["Traced", "TracedGateway", "one_span", "parent_of", "traced_factory"]


class Traced(msgspec.Struct):
    base_url: str
    key: str
    privatemode: SimulatorHandle
    kernel: Kernel
    app: Litestar
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        """Every span finished so far (flushed out of the batch processor first)."""
        assert TracingRuntime.of(self.kernel).flush()
        return list(self.exporter.get_finished_spans())


async def _until_discovered(kernel: Kernel) -> None:
    for _ in range(300):
        providers = kernel.components.providers
        healthy = bool(providers) and all(p.healthy for p in providers)
        if healthy and all([await p.list_models() for p in providers]):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the provider never discovered its models")


TracedGateway = Callable[..., contextlib.AbstractAsyncContextManager[Traced]]


def traced_factory(make_settings: Callable[..., Any], database_url: str) -> TracedGateway:
    """``async with traced(tracing=True, extra=(plugins...), **ENCLAVA_env) as env``."""

    @contextlib.asynccontextmanager
    async def run(
        *, tracing: bool = True, extra: Sequence[object] = (), **env: str
    ) -> AsyncIterator[Traced]:
        async with running_simulator("privatemode") as pm:
            settings = make_settings(
                database_url,
                **provider_env("privatemode", pm),
                ENCLAVA_TRACING_ENABLED="true" if tracing else "false",
                **env,
            )
            app = create_app(settings, plugins=PluginManager(extra=list(extra)))
            kernel: Kernel = app.state.kernel
            exporter = InMemorySpanExporter()
            TracingRuntime.of(kernel).use_exporter(exporter)
            async with serving(app) as base:
                key = await _api_key(app, base)
                await _until_discovered(kernel)
                yield Traced(f"{base}/api/v1", key, pm, kernel, app, exporter)

    return run


def one_span(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    """The only span called ``name``."""
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, [span.name for span in spans]
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id
