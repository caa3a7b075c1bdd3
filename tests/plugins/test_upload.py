"""Uploading a plugin archive: admin only, validated, installed disabled, served once enabled."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
from support.identity import admin_headers, create_user, login

from kernel.app import create_app

from .conftest import Install

ADMIN = "/api-internal/v1/wasm-plugins"
ZIP = {"content-type": "application/zip"}
MISSING = b'\n[[endpoints]]\nmethod = "POST"\npath = "/x"\n'
"""An endpoint hello's component does not implement."""


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def _upload(
    client: httpx.AsyncClient, headers: dict[str, str], body: bytes
) -> httpx.Response:
    return await client.post(ADMIN, headers={**headers, **ZIP}, content=body)


async def test_upload_installs_disabled_and_validates(
    make_settings: Any, sqlite_url: str, install: Install, built: dict[str, Path], running: Any
) -> None:
    env = install()  # an empty plugins folder
    hello = built["hello"]
    manifest = (hello / "plugin.toml").read_bytes()
    wasm = (hello / "plugin.wasm").read_bytes()
    app = create_app(make_settings(sqlite_url, **env))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        await create_user(app, "user@example.com", "pw-123456789!", role="user")
        user = await login(client, "user@example.com", "pw-123456789!")
        valid = _zip({"plugin.toml": manifest, "plugin.wasm": wasm})
        assert (await _upload(client, user, valid)).status_code == 403

        refusals = {
            "not zip": b"plain bytes",
            "extra file": _zip({"plugin.toml": manifest, "plugin.wasm": wasm, "x.py": b""}),
            "core module": _zip({"plugin.toml": manifest, "plugin.wasm": b"\0asm\x01\0\0\0"}),
            "native code": _zip({"plugin.toml": manifest, "plugin.wasm": b"\x7fELF" + wasm}),
            "bad manifest": _zip({"plugin.toml": b"name = 1", "plugin.wasm": wasm}),
            "exports differ": _zip({"plugin.toml": manifest + MISSING, "plugin.wasm": wasm}),
        }
        for what, body in refusals.items():
            refused = await _upload(client, admin, body)
            assert refused.status_code == 400, (what, refused.text)
        assert "POST /x is not implemented" in refused.json()["error"]["message"]
        assert not (Path(env["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / "hello").exists()

        created = await _upload(client, admin, valid)
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "disabled"
        assert (await _upload(client, admin, valid)).status_code == 409
        assert (Path(env["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / "hello" / "plugin.wasm").is_file()
        served = "/api-internal/v1/plugins/hello/hello"
        assert (await client.get(served, headers=admin)).status_code == 404
        enabled = (await client.post(f"{ADMIN}/hello/enable", headers=admin)).json()
        digest = {"permissions_digest": enabled["permissions_digest"]}
        await client.post(f"{ADMIN}/hello/approve", headers=admin, json=digest)
        assert (await client.get(served, headers=admin)).status_code == 200
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/api/v1/plugins/hello/hello" in schema["paths"]

    restarted = create_app(
        make_settings(sqlite_url, **env, ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hello")
    )
    async with running(restarted) as client:
        admin = await admin_headers(restarted, client)
        answer = await client.get("/api-internal/v1/plugins/hello/hello", headers=admin)
        assert answer.status_code == 200
