"""A hostile Python guest through the real app: each attempt is contained with a clear error
while the gateway keeps serving; repeated traps disable the plugin and leave an audit event."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text
from support.identity import admin_headers

from kernel.app import create_app

from .conftest import Install

BASE = "/api-internal/v1/plugins/hostile"


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
        assert env == {"environ": {}, "home": None}
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
