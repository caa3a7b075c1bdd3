"""Offline operations against a running server: a CLI toggle reaches it, and says how fast."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kernel.app import create_app
from kernel.operations import toggle_plugin
from kernel.plugins import PluginManager


async def _applied(kernel: Any, name: str, *, enabled: bool, within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if (name in kernel.components.enabled) is enabled:
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} not {'enabled' if enabled else 'disabled'} within {within} s")


async def test_a_cli_toggle_reaches_an_embedded_server_within_a_second(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    settings = make_settings(sqlite_url)  # in-process KV: nothing crosses processes
    app = create_app(settings)
    async with running(app) as client:
        kernel = app.state.kernel
        assert "rate_limit" in kernel.components.enabled
        said = await toggle_plugin(settings, PluginManager(), "rate_limit", enabled=False)
        assert said.startswith("a running server on this database applies it within 1 s")
        await _applied(kernel, "rate_limit", enabled=False, within=1.5)
        assert (await client.get("/health/live")).status_code == 200
        await toggle_plugin(settings, PluginManager(), "rate_limit", enabled=True)
        await _applied(kernel, "rate_limit", enabled=True, within=1.5)


async def test_a_cli_toggle_over_redis_applies_at_once(
    make_settings: Any, postgres_url: str, redis_prefix: str, running: Any
) -> None:
    settings = make_settings(postgres_url, redis_prefix=redis_prefix)
    app = create_app(settings)
    async with running(app):
        said = await toggle_plugin(settings, PluginManager(), "rate_limit", enabled=False)
        assert said == "announced over Redis: running replicas apply it at once"
        assert await _applied(app.state.kernel, "rate_limit", enabled=False, within=1.0) < 1.0
