"""Admin internal API through the real app: plugin list, toggles on a second replica, settings."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from support.identity import admin_headers, create_user, login

from kernel.app import create_app

API = "/api-internal/v1"


async def _until(client: httpx.AsyncClient, path: str, status: int, **kw: Any) -> None:
    for _ in range(200):
        if (await client.get(path, **kw)).status_code == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never answered {status}")


async def test_plugin_list_shows_every_builtin(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    app = create_app(make_settings(sqlite_url))
    async with running(app) as client:
        headers = await admin_headers(app, client)
        body = (await client.get(f"{API}/plugins", headers=headers)).json()
        plugins = {p["name"]: p for p in body["data"]}
        assert {"auth", "api_keys", "audit", "admin", "rate_limit", "threat_detection"} <= set(
            plugins
        )
        assert plugins["auth"]["essential"] is True
        assert plugins["auth"]["kind"] == "builtin"
        assert plugins["threat_detection"]["essential"] is False
        assert all(p["enabled"] for p in plugins.values())


async def test_only_admins_reach_the_admin_api(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    app = create_app(make_settings(sqlite_url))
    async with running(app) as client:
        assert (await client.get(f"{API}/plugins")).status_code == 401
        await create_user(app, "plain@example.com", "correct horse battery", "user")
        headers = await login(client, "plain@example.com", "correct horse battery")
        for method, path in [
            ("GET", "/plugins"),
            ("POST", "/plugins/threat_detection/disable"),
            ("GET", "/plugins/rate_limit/config"),
            ("PUT", "/settings"),
        ]:
            response = await client.request(method, f"{API}{path}", headers=headers, json={})
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["type"] == "permission_error"


async def test_toggle_through_the_api_reaches_second_replica(
    make_settings: Any, running: Any, database_url: str, redis_prefix: str
) -> None:
    app_a = create_app(make_settings(database_url, redis_prefix=redis_prefix))
    app_b = create_app(make_settings(database_url, redis_prefix=redis_prefix))
    async with running(app_a) as a, running(app_b) as b:
        headers = await admin_headers(app_a, a)
        blocks = f"{API}/security/blocks"
        assert (await b.get(blocks, headers=headers)).status_code == 200
        response = await a.post(f"{API}/plugins/threat_detection/disable", headers=headers)
        assert response.status_code == 200
        assert response.json()["enabled"] is False
        await _until(b, blocks, 404, headers=headers)
        response = await b.post(f"{API}/plugins/threat_detection/enable", headers=headers)
        assert response.json()["enabled"] is True
        await _until(a, blocks, 200, headers=headers)


async def test_essential_and_unknown_plugins(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    app = create_app(make_settings(sqlite_url))
    async with running(app) as client:
        headers = await admin_headers(app, client)
        response = await client.post(f"{API}/plugins/auth/disable", headers=headers)
        assert response.status_code == 409
        assert response.json()["error"]["type"] == "conflict_error"
        response = await client.post(f"{API}/plugins/nope/enable", headers=headers)
        assert response.status_code == 404


async def test_plugin_config_is_validated_and_shared(
    make_settings: Any, running: Any, database_url: str, redis_prefix: str
) -> None:
    app_a = create_app(make_settings(database_url, redis_prefix=redis_prefix))
    app_b = create_app(make_settings(database_url, redis_prefix=redis_prefix))
    async with running(app_a) as a, running(app_b) as b:
        headers = await admin_headers(app_a, a)
        path = f"{API}/plugins/rate_limit/config"
        config = (await a.get(path, headers=headers)).json()
        assert config["section"] == "rate_limit"
        assert "properties" in str(config["schema"]) or config["schema"]
        bad = await a.put(path, headers=headers, json={"public_per_minute": "lots"})
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request_error"
        unknown = await a.put(path, headers=headers, json={"colour": 1})
        assert unknown.status_code == 400
        good = await a.put(path, headers=headers, json={"public_per_minute": 7})
        assert good.status_code == 200
        assert good.json()["values"]["public_per_minute"] == 7
        for _ in range(200):
            seen = (await b.get(path, headers=headers)).json()["values"]["public_per_minute"]
            if seen == 7:
                break
            await asyncio.sleep(0.02)
        assert seen == 7


async def test_settings_api_masks_secrets_and_protects_kernel_sections(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, ENCLAVA_FILES_KEY="A" * 43 + "=")
    app = create_app(settings)
    async with running(app) as client:
        headers = await admin_headers(app, client)
        body = (await client.get(f"{API}/settings", headers=headers)).json()
        assert body["values"]["files"]["key"] == "********"
        assert "rate_limit" in body["editable"]
        assert "server" not in body["editable"]
        response = await client.put(f"{API}/settings", headers=headers, json={"server": {}})
        assert response.status_code == 409
        response = await client.put(f"{API}/settings", headers=headers, json={"nope": {}})
        assert response.status_code == 400
        response = await client.put(
            f"{API}/settings", headers=headers, json={"rate_limit": {"internal_per_minute": 99}}
        )
        assert response.status_code == 200
        assert response.json()["values"]["rate_limit"]["internal_per_minute"] == 99
