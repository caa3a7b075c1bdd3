"""``hello`` through the real app: installed disabled, enabled, approved, served, toggled."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar
from support.identity import admin_headers

from builtin_plugins.wasm_plugins.schedules import scheduler_of
from kernel.app import create_app

from .conftest import Install

ADMIN = "/api-internal/v1/wasm-plugins"
HELLO = "/api/v1/plugins/hello/hello"


async def _api_key(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> str:
    response = await client.post(
        "/api-internal/v1/api-keys", headers=headers, json={"name": "t", **fields}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


async def _activate(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> None:
    enabled = await client.post(f"{ADMIN}/{name}/enable", headers=headers)
    assert enabled.json()["status"] == "awaiting_approval"
    digest = enabled.json()["permissions_digest"]
    approved = await client.post(
        f"{ADMIN}/{name}/approve", headers=headers, json={"permissions_digest": digest}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"


async def test_hello_from_install_to_served(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    app: Litestar = create_app(make_settings(sqlite_url, **install("hello")))
    # hello runs every five minutes: a stopped clock keeps its schedule out of the call count.
    scheduler_of(app.state.kernel).clock = lambda: datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
    async with running(app) as client:
        admin = await admin_headers(app, client)
        key = {"Authorization": f"Bearer {await _api_key(client, admin)}"}
        listed = (await client.get(ADMIN, headers=admin)).json()["data"]
        assert [(p["name"], p["status"]) for p in listed] == [("hello", "disabled")]
        assert (await client.get(HELLO, headers=key)).status_code == 404

        await _activate(client, admin, "hello")
        answer = await client.get(HELLO, headers=key, params={"name": "Ada"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"message": "Hello, Ada!"}
        internal = await client.get("/api-internal/v1/plugins/hello/hello", headers=admin)
        assert internal.json()["message"].startswith("Hello, ")

        await client.post(f"{ADMIN}/hello/disable", headers=admin)
        assert (await client.get(HELLO, headers=key)).status_code == 404
        view = (await client.get(f"{ADMIN}/hello", headers=admin)).json()
        assert view["metrics"]["calls"] == 2


async def test_endpoint_needs_the_plugins_invoke_scope_and_is_in_the_schema(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    settings = make_settings(
        sqlite_url, **install("hello", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hello")
    )
    app: Litestar = create_app(settings)
    async with running(app) as client:
        admin = await admin_headers(app, client)
        narrow = await _api_key(client, admin, scopes=["models.list"])
        refused = await client.get(HELLO, headers={"Authorization": f"Bearer {narrow}"})
        assert refused.status_code == 403
        assert (await client.get(HELLO)).status_code == 401
        schema = (await client.get("/schema/openapi.json")).json()
        assert "get" in schema["paths"][HELLO]
        assert "get" in schema["paths"]["/api-internal/v1/plugins/hello/hello"]


async def test_approval_is_bound_to_the_digest(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    app: Litestar = create_app(make_settings(sqlite_url, **install("hello")))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        stale = await client.post(
            f"{ADMIN}/hello/approve", headers=admin, json={"permissions_digest": "0" * 64}
        )
        assert stale.status_code == 409
        user_key = await _api_key(client, admin)
        forbidden = await client.get(ADMIN, headers={"Authorization": f"Bearer {user_key}"})
        assert forbidden.status_code in (401, 403)


async def test_component_not_matching_its_manifest_does_not_load(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    env = install("hello", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hello")
    manifest = Path(env["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / "hello" / "plugin.toml"
    manifest.write_text(manifest.read_text() + '\n[[endpoints]]\nmethod = "POST"\npath = "/x"\n')
    app: Litestar = create_app(make_settings(sqlite_url, **env))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        view = (await client.get(f"{ADMIN}/hello", headers=admin)).json()
        assert view["status"] == "failed"
        assert "POST /x is not implemented" in view["error"]
        assert (
            await client.get("/api-internal/v1/plugins/hello/hello", headers=admin)
        ).status_code == 404
