"""``POST /api/v1/plugins/<name>`` (a plugin's ``execute``) through the real app: scope
``plugins.invoke``, the internal twin, JSON bodies, and no route for a plugin without it."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar
from support.identity import admin_headers

from kernel.app import create_app

from .conftest import Install

EXECUTE = "/api/v1/plugins/hello"


async def _api_key(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> str:
    response = await client.post(
        "/api-internal/v1/api-keys", headers=headers, json={"name": "t", **fields}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


async def test_execute_needs_the_plugins_invoke_scope(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    env = install("hello", "pii_redactor", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hello,pii_redactor")
    app: Litestar = create_app(make_settings(sqlite_url, **env))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        invoke = await _api_key(client, admin, scopes=["plugins.invoke"])
        key = {"Authorization": f"Bearer {invoke}"}
        answer = await client.post(EXECUTE, headers=key, json={"name": "Ada"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"message": "Hello, Ada!"}
        anonymous = await client.post(EXECUTE, headers=key)
        assert anonymous.json()["message"].startswith("Hello, ")  # no body: the caller's id

        narrow = await _api_key(client, admin, scopes=["models.list"])
        refused = await client.post(EXECUTE, headers={"Authorization": f"Bearer {narrow}"})
        assert refused.status_code == 403
        assert refused.json()["error"]["type"] == "permission_error"
        assert (await client.post(EXECUTE, json={})).status_code == 401

        bad = await client.post(EXECUTE, headers=key, content=b"{not json")
        assert bad.status_code == 400
        assert bad.json()["error"]["message"] == "The request body must be JSON."

        internal = await client.post("/api-internal/v1/plugins/hello", headers=admin, json={})
        assert internal.status_code == 200
        assert internal.json()["message"].startswith("Hello, ")

        no_default = await client.post("/api/v1/plugins/pii_redactor", headers=key, json={})
        assert no_default.status_code == 404, no_default.text
        assert no_default.json()["error"]["type"] == "not_found_error"
        schema = (await client.get("/schema/openapi.json")).json()
        assert "post" in schema["paths"][EXECUTE]
        assert "post" in schema["paths"]["/api-internal/v1/plugins/hello"]
        assert "/api/v1/plugins/pii_redactor" not in schema["paths"]


async def test_execute_answers_404_while_the_plugin_is_disabled(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    app: Litestar = create_app(make_settings(sqlite_url, **install("hello")))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        key = {"Authorization": f"Bearer {await _api_key(client, admin)}"}
        answer = await client.post(EXECUTE, headers=key, json={"name": "Ada"})
        assert answer.status_code == 404
        assert answer.json()["error"]["message"] == "Plugin 'hello' is not available (disabled)."
