"""``pii_redactor`` on the hot path: prompts reach the provider redacted; ``GET /stats`` counts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from support.gateway import gateway_factory
from support.identity import admin_headers

from .conftest import Install

PROMPT = "Mail jane@example.com or call +44 20 7946 0958 about DE89 3704 0044 0532 0130 00"


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Any:
    return gateway_factory(make_settings, sqlite_url)


async def test_prompt_is_redacted_before_it_leaves(gateway: Any, install: Install) -> None:
    env = install("pii_redactor", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="pii_redactor")
    async with gateway(**env) as gw:
        answer = await gw.client().chat.completions.create(
            model="gpt-oss-120b", messages=[{"role": "user", "content": PROMPT}]
        )
        reply = answer.choices[0].message.content or ""
        assert "[EMAIL]" in reply
        assert "jane@example.com" not in reply
        assert "[IBAN]" in reply
        assert "7946" not in reply
        base = gw.base_url
        async with httpx.AsyncClient() as client:
            stats = await client.get(
                f"{base}/plugins/pii_redactor/stats", headers={"Authorization": f"Bearer {gw.key}"}
            )
        assert stats.json() == {"redacted": {"ibans": 1, "emails": 1, "phones": 1}, "total": 3}
        # The counts and the log line came with the filter's answer (deferred effects)
        async with httpx.AsyncClient(base_url=base.removesuffix("/api/v1")) as client:
            admin = await admin_headers(gw.app, client)
            url = "/api-internal/v1/wasm-plugins/pii_redactor/logs"
            logs = (await client.get(url, headers=admin)).json()
        assert "redacted 3 item(s)" in str(logs)


async def test_a_config_change_reaches_the_filter_on_the_next_request(
    gateway: Any, install: Install
) -> None:
    # The SDK reads each config key once per instance; the host answers from the configuration
    # an instance was created with and replaces instances when an admin changes it.
    env = install("pii_redactor", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="pii_redactor")
    async with gateway(**env) as gw:
        root = gw.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=root) as client:
            admin = await admin_headers(gw.app, client)

            async def configure(**values: bool) -> None:
                url = "/api-internal/v1/wasm-plugins/pii_redactor/config"
                answer = await client.put(url, headers=admin, json=values)
                assert answer.status_code == 200, answer.text

            async def reply() -> str:
                sent = (await _chat(gw, "write to ada@example.org")).json()
                return str(sent["choices"][0]["message"]["content"])

            for _ in range(3):  # every warm instance has read the config
                assert "[EMAIL]" in await reply()
            await configure(emails=False)
            for _ in range(3):
                assert "ada@example.org" in await reply()
            await configure(emails=True)
            assert "[EMAIL]" in await reply()


async def _chat(gw: Any, content: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{gw.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {gw.key}"},
            json={"model": "gpt-oss-120b", "messages": [{"role": "user", "content": content}]},
        )


async def test_a_failing_filter_fails_closed_unless_fail_open(
    gateway: Any, install: Install
) -> None:
    env = install("hostile", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hostile")
    async with gateway(**env) as gw:
        assert (await _chat(gw, "fine")).status_code == 200
        forwarded = len(await gw.privatemode.control.requests())
        refused = await _chat(gw, "please explode")
        assert refused.status_code == 502
        error = refused.json()["error"]
        assert error["code"] == "plugin_filter_failed"
        assert "'hostile'" in error["message"]
        assert "explode" not in error["message"]  # guest messages may quote the prompt
        assert len(await gw.privatemode.control.requests()) == forwarded
        await gw.kernel.update_section("wasm_plugins", {"fail_open": ["hostile"]})
        assert (await _chat(gw, "please explode")).status_code == 200
