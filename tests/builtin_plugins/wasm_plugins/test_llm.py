"""``llm-chat`` through the real gateway: a WAT guest asks, the simulators answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.gateway import Env, Gateway, gateway_factory
from support.sandbox import asking_plugin, chat_request

from kernel.exchange import Exchange
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.sandbox import CallFailed, SandboxedPlugin, SandboxEngine

MODEL = "gemma-3-27b"


class Recorder:
    PLUGIN_NAME = "exchange_recorder"
    name, order = "recorder", 1

    def __init__(self) -> None:
        self.finished: list[Exchange] = []

    async def admit(self, exchange: Exchange) -> None:
        return None

    async def finish(self, exchange: Exchange) -> None:
        self.finished.append(exchange)

    @hookimpl
    def enclava_exchange_guards(self, kernel: Kernel) -> list[Any]:
        return [self]


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    return gateway_factory(make_settings, sqlite_url)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[SandboxEngine]:
    engine = SandboxEngine(tmp_path / "cache", threads=2)
    yield engine
    engine.close()


def _plugin(engine: SandboxEngine, env: Env, model: str, **permissions: Any) -> SandboxedPlugin:
    return asking_plugin(engine, env.kernel, chat_request(model), **permissions)


async def test_a_granted_model_answers_through_the_gateway_as_the_plugin(
    gateway: Gateway, engine: SandboxEngine
) -> None:
    recorder = Recorder()
    async with gateway(extra=[recorder]) as env:
        plugin = _plugin(engine, env, MODEL, llm=[MODEL])
        try:
            answer = json.loads(await plugin.call("endpoint", "{}"))
        finally:
            plugin.close()
        assert answer["choices"][0]["message"]["content"]
        assert await env.privatemode.control.requests("/v1/chat/completions")
    (exchange,) = recorder.finished
    assert exchange.kind == "plugin"
    assert exchange.plugin == "asker"
    assert exchange.principal is not None
    assert (exchange.principal.kind, exchange.principal.id) == ("plugin", "asker")
    assert exchange.usage is not None


@pytest.mark.parametrize(
    ("permissions", "message"),
    [
        ({}, "llm-chat is not granted: add permissions.llm"),
        ({"llm": ["other-model"]}, "not in this plugin's permissions.llm"),
    ],
)
async def test_ungranted_models_are_refused_before_the_gateway(
    gateway: Gateway, engine: SandboxEngine, permissions: dict[str, Any], message: str
) -> None:
    async with gateway() as env:
        plugin = _plugin(engine, env, MODEL, **permissions)
        try:
            with pytest.raises(CallFailed) as caught:
                await plugin.call("endpoint", "{}")
        finally:
            plugin.close()
        assert message in caught.value.message
        assert not await env.privatemode.control.requests("/v1/chat/completions")


async def test_gateway_errors_reach_the_plugin_as_err(
    gateway: Gateway, engine: SandboxEngine
) -> None:
    async with gateway() as env:
        plugin = _plugin(engine, env, "no-such-model", llm=["*"])
        try:
            with pytest.raises(CallFailed) as caught:
                await plugin.call("endpoint", "{}")
        finally:
            plugin.close()
        assert "model_not_found" in caught.value.message
