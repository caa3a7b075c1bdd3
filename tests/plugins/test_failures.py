"""A broken or overwhelmed plugin through the real app (issue #12): a component that does not
load is disabled on every replica with its reason shown and audited, and never breaks chat; a
filter the sandbox cannot run answers 503 naming the plugin; a filter sees every chat body the
gateway accepts, whatever its endpoints' ``max_request_bytes``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from support.gateway import Env, gateway_factory
from support.identity import admin_headers

from .conftest import Install

ADMIN = "/api-internal/v1/wasm-plugins"
CHAT = {"model": "gpt-oss-120b"}


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Any:
    return gateway_factory(make_settings, sqlite_url)


def _mismatch(env: dict[str, str], plugin: str) -> None:
    """Declare an endpoint the installed component does not implement."""
    manifest = Path(env["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / plugin / "plugin.toml"
    manifest.write_text(manifest.read_text() + '\n[[endpoints]]\nmethod = "POST"\npath = "/x"\n')


def _max_request_bytes(env: dict[str, str], plugin: str, value: int) -> None:
    manifest = Path(env["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / plugin / "plugin.toml"
    limits = manifest.read_text().replace("[limits]\n", f"[limits]\nmax_request_bytes = {value}\n")
    manifest.write_text(limits)


async def _chat(gw: Env, content: str, **fields: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=20) as client:
        return await client.post(
            f"{gw.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {gw.key}"},
            json={**CHAT, "messages": [{"role": "user", "content": content}], **fields},
        )


async def _failures(gw: Env) -> list[dict[str, Any]]:
    async with gw.kernel.stores.db.session() as session:
        rows = await session.execute(
            text("SELECT details FROM audit_events WHERE action = 'wasm_plugin.failed'")
        )
        return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]


def _internal(gw: Env) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=gw.base_url.removesuffix("/api/v1"), timeout=20)


async def test_a_filter_plugin_failing_at_approval_is_disabled_and_chat_goes_on(
    gateway: Any, install: Install
) -> None:
    env = install("hostile")
    _mismatch(env, "hostile")
    async with gateway(**env) as gw:
        async with _internal(gw) as client:
            admin = await admin_headers(gw.app, client)
            enabled = (await client.post(f"{ADMIN}/hostile/enable", headers=admin)).json()
            digest = {"permissions_digest": enabled["permissions_digest"]}
            approved = await client.post(f"{ADMIN}/hostile/approve", headers=admin, json=digest)
            view = approved.json()
            assert (view["status"], view["enabled"]) == ("failed", False)
            assert "POST /x is not implemented" in view["error"]
            listed = (await client.get(ADMIN, headers=admin)).json()["data"]
            assert [(p["status"], p["enabled"]) for p in listed] == [("failed", False)]
            assert gw.kernel.settings.sections["wasm_plugins"].disabled == ["hostile"]
        [failure] = await _failures(gw)
        assert "POST /x is not implemented" in failure["reason"]
        assert (await _chat(gw, "please explode")).status_code == 200  # the filter is off
        streamed = await _chat(gw, "please explode", stream=True)
        assert streamed.status_code == 200
        assert "data: [DONE]" in streamed.text


async def test_an_auto_enabled_plugin_that_fails_at_boot_stays_off_after_a_restart(
    gateway: Any, install: Install
) -> None:
    env = install("hostile", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile")
    _mismatch(env, "hostile")
    async with gateway(**env) as gw:
        assert (await _chat(gw, "hi")).status_code == 200
        assert (await _chat(gw, "hi", stream=True)).status_code == 200
        for _ in range(100):  # switched off by the first background sync after the start
            if await _failures(gw):
                break
            await asyncio.sleep(0.05)
        assert gw.kernel.settings.sections["wasm_plugins"].disabled == ["hostile"]
        assert len(await _failures(gw)) == 1
    async with gateway(**env) as gw:  # the same database: what another replica would read
        async with _internal(gw) as client:
            admin = await admin_headers(gw.app, client)
            view = (await client.get(f"{ADMIN}/hostile", headers=admin)).json()
        assert (view["status"], view["enabled"]) == ("disabled", False)
        assert len(await _failures(gw)) == 1  # never loaded again, so never failed again
        assert (await _chat(gw, "hi")).status_code == 200


async def test_a_filter_that_cannot_answer_is_a_503_naming_the_plugin(
    gateway: Any, install: Install
) -> None:
    env = install("hostile", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile")
    async with gateway(**env) as gw:
        # one filter thread (limits.instances = 1), 0.5 s each: two calls time out, the others
        # wait for the thread longer than the deadline and never run (busy)
        answers = await asyncio.gather(*(_chat(gw, "oversleep") for _ in range(4)))
        assert {a.status_code for a in answers} == {503}
        errors = [a.json()["error"] for a in answers]
        assert {e["code"] for e in errors} == {"plugin_filter_unavailable"}
        assert all("'hostile'" in e["message"] for e in errors)
        assert {a.headers["retry-after"] for a in answers} == {"1"}
        reasons = " ".join(e["message"] for e in errors)
        assert "(timeout)" in reasons
        assert "(busy)" in reasons
        assert (await _chat(gw, "please explode")).status_code == 502  # the filter's own error


async def test_a_filter_sees_chats_larger_than_its_max_request_bytes(
    gateway: Any, install: Install
) -> None:
    env = install("hostile", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile")
    _max_request_bytes(env, "hostile", 1024)
    async with gateway(**env) as gw:
        assert (await _chat(gw, "x" * 64 * 1024)).status_code == 200
        refused = await _chat(gw, "x" * 64 * 1024 + " explode")
        assert refused.json()["error"]["code"] == "plugin_filter_failed"  # it ran, and refused
