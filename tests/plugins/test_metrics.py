"""Sandboxed plugin calls in ``/metrics``: every call into the hostile guest through the real app
is counted by plugin, kind and outcome, with its duration (metrics plugin, Meter service)."""

from __future__ import annotations

from typing import Any

from support.identity import admin_headers
from support.metrics import ENABLED, family_types, scrape_with, total

from kernel.app import create_app
from kernel.sandbox.engine import EPOCH_TICK_SECONDS

from .conftest import Install

BASE = "/api-internal/v1/plugins/hostile"


async def test_plugin_calls_are_counted_by_outcome_with_their_duration(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    env = install("hostile", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile", **ENABLED)
    app = create_app(make_settings(sqlite_url, **env))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        statuses = [
            (await client.get(f"{BASE}/{path}", headers=admin)).status_code
            for path in ("ok", "ok", "raise", "loop")
        ]
        text, samples = await scrape_with(client)
    assert statuses[:2] == [200, 200]
    assert statuses[2] >= 500
    assert statuses[3] >= 500
    types = family_types(text)
    assert types["enclava_plugin_calls"] == "counter"
    assert types["enclava_plugin_call_duration_seconds"] == "histogram"
    endpoint = {"plugin": "hostile", "kind": "endpoint"}
    calls = "enclava_plugin_calls_total"
    assert total(samples, calls, **endpoint, outcome="ok") == 2
    assert total(samples, calls, **endpoint, outcome="error") == 1
    assert total(samples, calls, **endpoint, outcome="timeout") == 1  # the deadline's trap
    assert total(samples, calls, **endpoint) == 4
    duration = "enclava_plugin_call_duration_seconds"
    assert total(samples, f"{duration}_count", **endpoint) == 4
    # the loop ran to its deadline, which epoch ticks end within one tick
    assert total(samples, f"{duration}_sum", **endpoint) >= 0.5 - EPOCH_TICK_SECONDS
    assert {labels["plugin"] for labels, _ in samples[calls]} == {"hostile"}
