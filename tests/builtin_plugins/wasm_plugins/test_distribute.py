"""Uploaded plugins reach every replica: stored in SQL, announced on the KV channel (re-read
every ``plugins.resync_seconds`` without it), installed disabled, removed everywhere."""

from __future__ import annotations

import asyncio
import base64
import io
import secrets
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from support.identity import admin_headers

from builtin_plugins.wasm_plugins.registry import ARCHIVE_MARKER
from kernel.app import create_app

ADMIN = "/api-internal/v1/wasm-plugins"
HELLO = "/api-internal/v1/plugins/hello/hello"
PUBLIC_HELLO = "/api/v1/plugins/hello/hello"
ZIP = {"content-type": "application/zip"}


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` (bounded: about ten seconds)."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


def _status(client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int) -> Any:
    async def check() -> bool:
        return (await client.get(path, headers=headers)).status_code == status

    return check


async def _refusals(
    client: httpx.AsyncClient, admin: dict[str, str], reason: str
) -> list[dict[str, Any]]:
    """The ``wasm_plugin.refused`` audit events whose reason names ``reason``, once one exists
    (audit events are written in batches)."""
    query = {"action": "wasm_plugin.refused"}
    found: list[dict[str, Any]] = []

    async def audited() -> bool:
        answer = await client.get("/api-internal/v1/audit", headers=admin, params=query)
        found[:] = [e for e in answer.json()["data"] if reason in e["details"]["reason"]]
        return bool(found)

    await _until(audited, f"a refusal naming {reason!r} audited")
    return found


async def _approve(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    enabled = (await client.post(f"{ADMIN}/hello/enable", headers=admin)).json()
    digest = {"permissions_digest": enabled["permissions_digest"]}
    approved = await client.post(f"{ADMIN}/hello/approve", headers=admin, json=digest)
    assert approved.json()["status"] in ("active", "loading"), approved.text


async def test_upload_on_one_replica_is_served_by_the_other(
    make_settings: Any,
    postgres_url: str,
    redis_prefix: str,
    hello_archive: bytes,
    plugin_dirs: dict[str, dict[str, str]],
    running: Any,
) -> None:
    pepper = base64.b64encode(secrets.token_bytes(32)).decode()  # replicas share it
    settings = {"redis_prefix": redis_prefix, "ENCLAVA_API_KEYS_PEPPER": pepper}
    first = create_app(make_settings(postgres_url, **settings, **plugin_dirs["a"]))
    second = create_app(make_settings(postgres_url, **settings, **plugin_dirs["b"]))
    folder_b = Path(plugin_dirs["b"]["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / "hello"
    async with running(first) as one, running(second) as two:
        admin = await admin_headers(first, one)
        assert (await two.get(f"{ADMIN}/hello", headers=admin)).status_code == 404
        created = await one.post(ADMIN, headers={**admin, **ZIP}, content=hello_archive)
        assert created.status_code == 201, created.text
        await _until(_status(two, f"{ADMIN}/hello", admin, 200), "installed on B")
        view = (await two.get(f"{ADMIN}/hello", headers=admin)).json()
        assert view["status"] == "disabled"
        assert view["sha256"] == created.json()["sha256"]
        assert (folder_b / "plugin.wasm").is_file()
        assert (folder_b / ARCHIVE_MARKER).is_file()
        assert (await two.get(HELLO, headers=admin)).status_code == 404

        await _approve(one, admin)
        await _until(_status(two, HELLO, admin, 200), "served by B")
        assert (await two.get(HELLO, headers=admin)).json()  # the plugin's own answer
        issued = await one.post(
            "/api-internal/v1/api-keys",
            headers=admin,
            json={"name": "t", "scopes": ["plugins.invoke"]},
        )
        assert issued.status_code == 201, issued.text
        key = {"Authorization": f"Bearer {issued.json()['key']}"}
        assert (await two.get(PUBLIC_HELLO, headers=key)).status_code == 200
        action = await two.post("/api/v1/plugins/hello", headers=key, json={"name": "Ada"})
        assert action.json() == {"message": "Hello, Ada!"}
        narrow = await one.post(
            "/api-internal/v1/api-keys",
            headers=admin,
            json={"name": "n", "scopes": ["models.list"]},
        )
        other = {"Authorization": f"Bearer {narrow.json()['key']}"}
        assert (await two.get(PUBLIC_HELLO, headers=other)).status_code == 403
        assert (await two.get("/api/v1/plugins/hello/nothing", headers=key)).status_code == 404

        removed = await one.delete(f"{ADMIN}/hello", headers=admin)
        assert removed.status_code == 200, removed.text
        assert (await one.get(HELLO, headers=admin)).status_code == 404
        await _until(_status(two, HELLO, admin, 404), "removed from B")
        await _until(_status(two, f"{ADMIN}/hello", admin, 404), "unlisted on B")
        assert not folder_b.exists()

        again = await two.post(ADMIN, headers={**admin, **ZIP}, content=hello_archive)
        assert again.status_code == 201, again.text
        assert again.json()["status"] == "disabled"  # the removal dropped the approval
        await _until(_status(one, f"{ADMIN}/hello", admin, 200), "re-installed on A")
        assert (await one.get(HELLO, headers=admin)).status_code == 404
        await _approve(two, admin)
        await _until(_status(one, HELLO, admin, 200), "served by A again")


async def test_single_box_and_a_replica_started_later(
    make_settings: Any,
    sqlite_url: str,
    hello_archive: bytes,
    plugin_dirs: dict[str, dict[str, str]],
    running: Any,
) -> None:
    app = create_app(make_settings(sqlite_url, **plugin_dirs["a"]))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        created = await client.post(ADMIN, headers={**admin, **ZIP}, content=hello_archive)
        assert created.status_code == 201, created.text
        assert (
            await client.post(ADMIN, headers={**admin, **ZIP}, content=hello_archive)
        ).status_code == 409
        await _approve(client, admin)
        await _until(_status(client, HELLO, admin, 200), "served")

    leftover = Path(plugin_dirs["c"]["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / ".upload-interrupted"
    leftover.mkdir(parents=True)
    (leftover / "plugin.toml").write_text('name = "hello"\n')  # an install cut short
    later = create_app(make_settings(sqlite_url, **plugin_dirs["c"]))
    async with running(later) as client:
        admin = await admin_headers(later, client)
        assert (await client.get(HELLO, headers=admin)).status_code == 200  # installed at boot
        operator = await client.delete(f"{ADMIN}/nothing", headers=admin)
        assert operator.status_code == 404
        assert (await client.delete(f"{ADMIN}/hello", headers=admin)).status_code == 200
        assert (await client.get(HELLO, headers=admin)).status_code == 404
        assert (await client.get(f"{ADMIN}/hello", headers=admin)).status_code == 404


async def test_a_corrupted_archive_is_refused_and_audited(
    make_settings: Any,
    sqlite_url: str,
    hello_archive: bytes,
    plugin_dirs: dict[str, dict[str, str]],
    running: Any,
) -> None:
    app = create_app(make_settings(sqlite_url, **plugin_dirs["a"]))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        created = await client.post(ADMIN, headers={**admin, **ZIP}, content=hello_archive)
        assert created.status_code == 201, created.text

    engine = create_async_engine(sqlite_url)
    async with engine.begin() as conn:
        tampered = hello_archive[:-1] + bytes([hello_archive[-1] ^ 1])
        await conn.execute(sa.text("UPDATE wasm_plugin_archives SET archive = :a"), {"a": tampered})
    await engine.dispose()

    later = create_app(make_settings(sqlite_url, **plugin_dirs["b"]))
    async with running(later) as client:
        admin = await admin_headers(later, client)
        assert (await client.get(f"{ADMIN}/hello", headers=admin)).status_code == 404
        assert not (Path(plugin_dirs["b"]["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / "hello").exists()
        [event] = await _refusals(client, admin, "sha256")
        assert event["resource_id"] == "hello"


async def test_without_redis_the_resync_carries_uploads(
    make_settings: Any,
    sqlite_url: str,
    hello_archive: bytes,
    plugin_dirs: dict[str, dict[str, str]],
    running: Any,
) -> None:
    """Two servers sharing only a SQLite file (memory KV: no announcement crosses them)."""
    first = create_app(make_settings(sqlite_url, **plugin_dirs["a"]))
    second = create_app(make_settings(sqlite_url, **plugin_dirs["b"]))
    async with running(first) as one, running(second) as two:
        admin = await admin_headers(first, one)
        created = await one.post(ADMIN, headers={**admin, **ZIP}, content=hello_archive)
        assert created.status_code == 201, created.text
        await _approve(one, admin)
        await _until(_status(two, HELLO, admin, 200), "served by B after a resync")
        assert (await one.delete(f"{ADMIN}/hello", headers=admin)).status_code == 200
        await _until(_status(two, HELLO, admin, 404), "removed from B after a resync")


async def test_an_operators_plugin_is_never_replaced_or_removed(
    make_settings: Any,
    sqlite_url: str,
    hello_archive: bytes,
    plugin_dirs: dict[str, dict[str, str]],
    running: Any,
) -> None:
    app = create_app(make_settings(sqlite_url, **plugin_dirs["a"]))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        created = await client.post(ADMIN, headers={**admin, **ZIP}, content=hello_archive)
        assert created.status_code == 201, created.text

    operators = Path(plugin_dirs["b"]["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / "hello"
    operators.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(hello_archive)) as archive:
        archive.extractall(operators)
    later = create_app(make_settings(sqlite_url, **plugin_dirs["b"]))
    async with running(later) as client:
        admin = await admin_headers(later, client)
        assert (await client.get(f"{ADMIN}/hello", headers=admin)).status_code == 200
        assert not (operators / ARCHIVE_MARKER).exists()
        refused = await client.delete(f"{ADMIN}/hello", headers=admin)
        assert refused.status_code == 409, refused.text
        assert (operators / "plugin.wasm").is_file()
        assert await _refusals(client, admin, "operator")
