"""A sandboxed plugin's ``llm-chat`` calls spend the plugin's own budget and are recorded."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.sandbox import asking_plugin, chat_request
from support.usage import Stack, create_budget, records

from kernel.sandbox import CallFailed, SandboxedPlugin, SandboxEngine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[SandboxEngine]:
    engine = SandboxEngine(tmp_path / "cache", threads=2)
    yield engine
    engine.close()


async def _outcome(plugin: SandboxedPlugin) -> str:
    try:
        await plugin.call("endpoint", "{}")
    except CallFailed as exc:
        return exc.message
    return "ok"


def _reserved(refusal: str) -> int:
    """The reservation a refusal states (``may cost up to 0.000054``), in micro-units."""
    match = re.search(r"may cost up to (\d+)\.(\d{6})", refusal)
    assert match is not None, refusal
    return int(match.group(1)) * 1_000_000 + int(match.group(2))


async def test_plugin_calls_spend_the_plugin_budget(stack: Stack, engine: SandboxEngine) -> None:
    async with stack() as env:
        kernel = env.apps[0].state.kernel
        request = chat_request("gpt-oss-120b", max_tokens=8)
        plugin = asking_plugin(engine, kernel, request, llm=["gpt-oss-120b"])
        try:
            await plugin.call("endpoint", "{}")
            (first,) = await records(env)
            cost = first["cost_micros"]
            budget = await create_budget(env, owner_type="plugin", owner_id="asker", limit_micros=0)
            limit = _reserved(await _outcome(plugin)) + cost * 2  # room for three answers
            async with env.client() as client:
                updated = await client.patch(
                    f"/api-internal/v1/budgets/{budget['budget']['id']}",
                    headers=env.admin,
                    json={"limit_micros": limit},
                )
            assert updated.status_code == 200, updated.text
            outcomes = [await _outcome(plugin) for _ in range(8)]
        finally:
            plugin.close()
        rows = await records(env)
    assert outcomes[:3] == ["ok"] * 3
    assert all("insufficient_quota" in o for o in outcomes[3:])
    assert {(r["plugin"], r["user_id"], r["key_id"]) for r in rows} == {("asker", None, None)}
    spent = sum(r["cost_micros"] for r in rows[1:])
    assert spent == cost * 3 <= limit
