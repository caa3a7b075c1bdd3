"""``[tracing]`` settings and boot: enabled needs somewhere to send spans."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from builtin_plugins.tracing.runtime import TracingRuntime
from builtin_plugins.tracing.settings import TracingSettings
from kernel.app import create_app
from kernel.errors import ConfigError
from kernel.plugins import PluginManager
from kernel.tracing import NO_TRACER, Tracer


def test_defaults_are_off() -> None:
    settings = TracingSettings()
    assert not settings.enabled
    assert settings.service_name == "enclava"
    assert settings.sample_ratio == 1.0


@pytest.mark.parametrize(
    "values",
    [
        {"sample_ratio": 1.5},
        {"sample_ratio": -0.1},
        {"service_name": " "},
        {"otlp_endpoint": "collector:4318"},
    ],
)
def test_bad_values_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(values, TracingSettings)


async def test_enabled_without_an_endpoint_refuses_to_boot(
    make_settings: Any, sqlite_url: str
) -> None:
    app = create_app(
        make_settings(sqlite_url, ENCLAVA_TRACING_ENABLED="true"), plugins=PluginManager()
    )
    kernel = app.state.kernel
    try:
        with pytest.raises(ConfigError, match="ENCLAVA_TRACING_OTLP_ENDPOINT"):
            await kernel.start()
    finally:
        await kernel.stop()


async def test_an_endpoint_gives_the_kernel_a_real_tracer_until_shutdown(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    settings = make_settings(
        sqlite_url,
        ENCLAVA_TRACING_ENABLED="true",
        ENCLAVA_TRACING_OTLP_ENDPOINT="http://127.0.0.1:9/v1/traces",
    )
    app = create_app(settings, plugins=PluginManager())
    kernel = app.state.kernel
    async with running(app):
        tracer = kernel.components.tracer
        assert isinstance(tracer, Tracer)
        assert tracer.enabled
        with tracer.span("probe", answer=42) as span:
            span.set_attribute("outcome", "ok")
        assert tracer.inject({"a": "b"}) == {"a": "b"}  # no current span: nothing to add
    runtime = TracingRuntime.of(kernel)
    assert runtime.tracer() is None
    assert not NO_TRACER.enabled
