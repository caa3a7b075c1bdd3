"""A sandboxed plugin's ``llm-chat`` calls spend the plugin's own budget and are recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.sandbox import asking_plugin, chat_request
from support.usage import Stack, create_budget, records

from kernel.sandbox import CallFailed, SandboxEngine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[SandboxEngine]:
    engine = SandboxEngine(tmp_path / "cache", threads=2)
    yield engine
    engine.close()


async def test_plugin_calls_spend_the_plugin_budget(stack: Stack, engine: SandboxEngine) -> None:
    async with stack() as env:
        kernel = env.apps[0].state.kernel
        request = chat_request("gpt-oss-120b", max_tokens=8)
        plugin = asking_plugin(engine, kernel, request, llm=["gpt-oss-120b"])
        try:
            await plugin.call("endpoint", "{}")
            (first,) = await records(env)
            await create_budget(
                env, owner_type="plugin", owner_id="asker", limit_micros=first["cost_micros"] * 3
            )
            outcomes: list[str] = []
            for _ in range(8):
                try:
                    await plugin.call("endpoint", "{}")
                    outcomes.append("ok")
                except CallFailed as exc:
                    outcomes.append(exc.message)
        finally:
            plugin.close()
        rows = await records(env)
    assert outcomes[0] == "ok"
    assert any("insufficient_quota" in o for o in outcomes)
    assert {(r["plugin"], r["user_id"], r["key_id"]) for r in rows} == {("asker", None, None)}
    spent = sum(r["cost_micros"] for r in rows[1:])
    assert spent <= first["cost_micros"] * 3
