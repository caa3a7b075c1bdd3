"""Deferred effects: log lines and kv-add additions a guest carries in its ok answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.wat_components import component

from kernel.sandbox import CallFailed
from kernel.sandbox.effects import MAX_EFFECTS_BYTES, EffectsRejected, split_answer
from kernel.sandbox.imports import MAX_ADD_KEYS
from kernel.storage.kv_memory import MemoryKV

from .conftest import Load


def _sequence(effects: Any, answer: str = '{"body": null}') -> str:
    return f"\x1e{json.dumps(effects)}\n\x1e{answer}\n"


def _answering(text: str) -> bytes:
    """A component whose every call answers ``text`` as ok."""
    size = len(text.encode())
    return component(f"(call $ret (i32.const 0) (i32.const 256) (i32.const {size}))", data=[text])


async def test_lines_and_additions_are_made_and_the_answer_is_what_follows(load: Load) -> None:
    kv = MemoryKV()
    effects = {"log": [["info", "first"], ["shout", "second"]], "kv_add": {"hits": 2, "b": -1}}
    plugin = load(_answering(_sequence(effects)), kv=kv, permissions={"kv": True})
    assert await plugin.call("filter-request", "{}") == '{"body": null}'
    await plugin.call("filter-request", "{}")
    assert await kv.get("wasm:fixture:hits") == b"4"
    assert await kv.get("wasm:fixture:b") == b"-2"
    lines = [(line.stream, line.message) for line in plugin.logs.lines()]
    assert lines == [("info", "first"), ("info", "second")] * 2  # an unknown level is info


async def test_an_answer_alone_is_passed_through(load: Load) -> None:
    plugin = load(_answering('{"status": 200}\n'))
    assert await plugin.call("endpoint", "{}") == '{"status": 200}\n'


async def test_additions_without_the_kv_permission_fail_the_call(load: Load) -> None:
    plugin = load(_answering(_sequence({"log": [["info", "kept"]], "kv_add": {"k": 1}})))
    with pytest.raises(CallFailed) as info:
        await plugin.call("filter-request", "{}")
    assert info.value.message == "kv-add is not granted: add permissions.kv to plugin.toml"
    assert [line.message for line in plugin.logs.lines()] == ["kept"]


@pytest.mark.parametrize(
    ("adds", "why"),
    [
        ({str(i): 1 for i in range(MAX_ADD_KEYS + 1)}, f"reached {MAX_ADD_KEYS} keys"),
        ({"": 1}, "bad key"),
        ({"k" * 257: 1}, "bad key"),
        ({"k": 2**63}, "s64"),
    ],
)
async def test_additions_obey_the_host_calls_rules(load: Load, adds: Any, why: str) -> None:
    kv = MemoryKV()
    plugin = load(_answering(_sequence({"kv_add": adds})), kv=kv, permissions={"kv": True})
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert info.value.message.startswith("kv-add refused")
    assert why in info.value.message
    assert await kv.get("wasm:fixture:0") is None


@pytest.mark.parametrize(
    "text",
    [
        "\x1e{}\n",  # effects without an answer
        "\x1e{}\n\x1e{}\n\x1e{}\n",  # three texts
        "\x1e{}\x1e{}\n",  # a text not ended by LF
        _sequence({"kv_add": {"k": "one"}}),
        _sequence({"unknown": 1}),
        "\x1enot json\n\x1e{}\n",
    ],
)
async def test_malformed_effects_fail_the_call(load: Load, text: str) -> None:
    plugin = load(_answering(text), kv=MemoryKV(), permissions={"kv": True})
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert info.value.reason == "error"


async def test_the_size_limit_is_the_answers(load: Load) -> None:
    lines = [["info", "x" * 1000]] * 8
    answer = '{"body": null}'
    limits = {"max_response_bytes": len(answer) + 1}
    plugin = load(_answering(_sequence({"log": lines}, answer)), limits=limits)
    assert await plugin.call("filter-request", "{}") == answer
    too_big = load(_answering(_sequence({}, answer + "  ")), limits=limits)
    with pytest.raises(CallFailed) as info:
        await too_big.call("filter-request", "{}")
    assert info.value.reason == "too_large"


def test_effects_are_bounded() -> None:
    with pytest.raises(EffectsRejected, match="exceed"):
        split_answer(_sequence({"log": [["info", "x" * MAX_EFFECTS_BYTES]]}))
