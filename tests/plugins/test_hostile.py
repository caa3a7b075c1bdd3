"""A hostile Python guest through the real app: each attempt is contained with a clear error
while the gateway keeps serving; repeated traps disable the plugin and leave an audit event."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text
from support.gateway import gateway_factory
from support.identity import admin_headers
from support.server import serving

from kernel.app import create_app

from .conftest import Install

BASE = "/api-internal/v1/plugins/hostile"
HOSTILE_TIMEOUT = 0.5
"""``limits.timeout_ms`` of tests/plugins/hostile/plugin.toml."""


Served = tuple[Litestar, httpx.AsyncClient, dict[str, str]]


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str, install: Install, running: Any) -> Any:
    """``async with gateway() as (app, client, admin_headers)``: hostile and hello, enabled."""
    env = install(
        "hostile",
        "hello",
        ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile,hello",
        ENCLAVA_WASM_PLUGINS_MAX_CONSECUTIVE_TRAPS="3",
    )

    @contextlib.asynccontextmanager
    async def serve() -> AsyncIterator[Served]:
        app: Litestar = create_app(make_settings(sqlite_url, **env))
        async with running(app) as client:
            yield app, client, await admin_headers(app, client)

    return serve


async def test_no_files_env_or_sockets(gateway: Any) -> None:
    async with gateway() as (_, client, admin):
        files = (await client.get(f"{BASE}/files", headers=admin)).json()
        assert not any(attempt["escaped"] for attempt in files.values()), files
        env = (await client.get(f"{BASE}/env", headers=admin)).json()
        # Nothing of the gateway's: only which effects the host takes with the answer
        assert env == {"environ": {"DEFERRED_EFFECTS": "log"}, "home": None}
        sockets = (await client.get(f"{BASE}/socket", headers=admin)).json()
        assert sockets["connect"]["escaped"] is False


async def test_capabilities_not_granted_are_refused(gateway: Any) -> None:
    async with gateway() as (_, client, admin):
        fetch = (await client.get(f"{BASE}/fetch", headers=admin)).json()
        assert fetch["refused"] == "host '127.0.0.1' is not on this plugin's http allowlist"
        kv = (await client.get(f"{BASE}/kv", headers=admin)).json()
        assert kv["refused"] == "kv-set is not granted: add permissions.kv to plugin.toml"


async def test_exceptions_become_plugin_errors(gateway: Any) -> None:
    async with gateway() as (_, client, admin):
        failed = await client.get(f"{BASE}/raise", headers=admin)
        assert failed.status_code == 502
        error = failed.json()["error"]
        assert error["code"] == "plugin_error"
        assert "RuntimeError" in error["message"]
        assert "guest code blew up" in error["message"]
        logs = (
            await client.get("/api-internal/v1/wasm-plugins/hostile/logs", headers=admin)
        ).json()
        assert "about to blow up" in str(logs)


async def test_answer_headers_cannot_forge_gateway_or_browser_headers(gateway: Any) -> None:
    async with gateway() as (_, client, admin):
        answer = await client.get(f"{BASE}/headers", headers=admin)
        assert answer.headers["x-plugin-note"] == "kept"
        assert answer.headers["cache-control"] == "no-store"
        assert "set-cookie" not in answer.headers
        assert "location" not in answer.headers
        assert "x-enclava-attestation" not in answer.headers
        assert answer.headers["x-request-id"] != "forged"


async def test_huge_response_is_refused(gateway: Any) -> None:
    async with gateway() as (_, client, admin):
        huge = await client.get(f"{BASE}/huge", headers=admin)
        assert huge.status_code == 502
        assert huge.json()["error"]["code"] == "plugin_response_too_large"


async def test_loop_and_memory_bomb_are_contained_then_the_plugin_is_disabled(
    gateway: Any,
) -> None:
    async with gateway() as (app, client, admin):
        looped = await client.get(f"{BASE}/loop", headers=admin)
        assert looped.json()["error"]["code"] == "plugin_timeout"
        assert (await client.get("/api-internal/v1/plugins/hello/hello", headers=admin)).is_success
        bomb = await client.get(f"{BASE}/bomb", headers=admin)
        assert bomb.status_code == 502
        assert (await client.get(f"{BASE}/ok", headers=admin)).json() == {"ok": True}
        for _ in range(3):
            await client.get(f"{BASE}/loop", headers=admin)
        assert (await client.get(f"{BASE}/ok", headers=admin)).status_code == 404
        view = (await client.get("/api-internal/v1/wasm-plugins/hostile", headers=admin)).json()
        assert view["status"] == "disabled"
        assert view["metrics"]["traps"] >= 3
        async with app.state.kernel.stores.db.session() as session:
            rows = await session.execute(
                text("SELECT outcome FROM audit_events WHERE action = 'wasm_plugin.auto_disable'")
            )
            assert [row[0] for row in rows] == ["failure"]
        assert (await client.get("/api-internal/v1/plugins/hello/hello", headers=admin)).is_success


async def _auto_disable_reasons(app: Litestar) -> list[str]:
    async with app.state.kernel.stores.db.session() as session:
        rows = await session.execute(
            text("SELECT details FROM audit_events WHERE action = 'wasm_plugin.auto_disable'")
        )
        return [str(row[0]) for row in rows]


async def test_an_hour_long_sleep_ends_at_the_deadline_and_counts_towards_auto_disable(
    gateway: Any,
) -> None:
    async with gateway() as (app, client, admin):
        started = time.monotonic()
        slept = await client.get(f"{BASE}/sleep", headers=admin)
        took = time.monotonic() - started
        assert slept.json()["error"]["code"] == "plugin_timeout"
        assert HOSTILE_TIMEOUT <= took < HOSTILE_TIMEOUT + 0.3, took
        nap = (await client.get(f"{BASE}/nap", headers=admin)).json()
        assert 0.05 <= nap["slept"] < HOSTILE_TIMEOUT  # sleeping within the deadline works
        for _ in range(3):
            assert (await client.get(f"{BASE}/sleep", headers=admin)).status_code == 502
        assert (await client.get(f"{BASE}/ok", headers=admin)).status_code == 404
        reasons = await _auto_disable_reasons(app)
        assert len(reasons) == 1
        assert "timeout" in reasons[0]


def _limits(env: dict[str, str], plugin: str, **limits: int) -> None:
    """Rewrite ``[limits]`` values of an installed plugin's manifest."""
    manifest = Path(env["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / plugin / "plugin.toml"
    lines = manifest.read_text().splitlines()
    for key, value in limits.items():
        lines = [f"{key} = {value}" if line.startswith(f"{key} =") else line for line in lines]
    manifest.write_text("\n".join(lines) + "\n")


async def test_four_sleeping_calls_starve_neither_another_plugin_nor_the_chat_filters(
    make_settings: Any, sqlite_url: str, install: Install
) -> None:
    env = install(
        "hostile",
        "hello",
        "pii_redactor",
        ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile,hello,pii_redactor",
    )
    _limits(env, "hostile", timeout_ms=3000, instances=4)
    async with gateway_factory(make_settings, sqlite_url)(**env) as gw:
        headers = {"Authorization": f"Bearer {gw.key}"}
        async with httpx.AsyncClient(base_url=gw.base_url, headers=headers, timeout=10) as client:
            sleeping = [asyncio.create_task(client.get("/plugins/hostile/sleep")) for _ in range(4)]
            await asyncio.sleep(0.3)
            started = time.monotonic()
            assert (await client.get("/plugins/hello/hello")).is_success
            answer = await gw.client().chat.completions.create(  # hostile's filter runs too
                model="gpt-oss-120b",
                messages=[{"role": "user", "content": "mail jane@example.com"}],
            )
            assert time.monotonic() - started < 1.5
            assert not any(call.done() for call in sleeping)
            assert "[EMAIL]" in (answer.choices[0].message.content or "")
            answers = await asyncio.gather(*sleeping)
        assert {a.json()["error"]["code"] for a in answers} == {"plugin_timeout"}


async def test_the_server_stops_within_two_seconds_with_guests_asleep(
    make_settings: Any, sqlite_url: str, install: Install
) -> None:
    env = install("hostile", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile")
    _limits(env, "hostile", instances=4)  # four threads, every one asleep
    app: Litestar = create_app(make_settings(sqlite_url, **env))
    async with httpx.AsyncClient(timeout=10) as client:
        async with serving(app) as base:
            client.base_url = httpx.URL(base)
            admin = await admin_headers(app, client)
            sleeping = [
                asyncio.create_task(client.get(f"{BASE}/sleep", headers=admin)) for _ in range(4)
            ]
            await asyncio.sleep(0.2)
            started = time.monotonic()
        took = time.monotonic() - started  # uvicorn drained the requests, then the lifespan
        answers = await asyncio.gather(*sleeping)
    assert took < 2.0
    assert [a.json()["error"]["code"] for a in answers] == ["plugin_timeout"] * 4


async def test_a_plugin_whose_threads_stay_busy_answers_503_with_retry_after(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    env = install("hostile", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile")
    app: Litestar = create_app(make_settings(sqlite_url, **env))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        # one call thread, 0.5 s a call: two calls run and time out, two wait past the deadline
        answers = await asyncio.gather(
            *(client.get(f"{BASE}/sleep", headers=admin) for _ in range(4))
        )
        busy = [a for a in answers if a.status_code == 503]
        assert len(busy) == 2, [a.text for a in answers]
        assert {a.json()["error"]["code"] for a in busy} == {"plugin_busy"}
        assert {a.headers["retry-after"] for a in busy} == {"1"}
        assert "'hostile'" in busy[0].json()["error"]["message"]
