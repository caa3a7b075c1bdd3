"""The call deadline holds whatever the guest does: run, sleep in WASI or wait on a host call."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.wat_components import component

from kernel.sandbox import CallFailed, SandboxedPlugin, SandboxEngine
from kernel.storage.kv_memory import MemoryKV

from .conftest import Load

HOUR_NS = 3_600_000_000_000
SLEEP = "(call $sleep (i64.const {ns})) (call $ret (i32.const 0) (i32.const 256) (i32.const 2))"
FORWARD = """
  (call ${name} (i32.const 256) (i32.const {size}) (i32.const 512))
  (call $ret (i32.load8_u (i32.const 512)) (i32.load (i32.const 516)) (i32.load (i32.const 520)))
"""
OVERSHOOT = 0.15
"""What a call may take past its deadline on a loaded 2-core machine (measured: ~10 ms)."""


def sleeper(ns: int = HOUR_NS) -> bytes:
    return component(SLEEP.format(ns=ns), data=["{}"], sleep=True)


async def _timed_failure(plugin: SandboxedPlugin) -> tuple[CallFailed, float]:
    started = time.monotonic()
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    return info.value, time.monotonic() - started


async def test_an_hour_long_wasi_sleep_ends_at_the_deadline_as_a_timeout(load: Load) -> None:
    plugin = load(sleeper(), limits={"timeout_ms": 1000})
    failure, took = await _timed_failure(plugin)
    assert failure.reason == "timeout", failure
    assert failure.trapped
    assert 1.0 <= took < 1.0 + OVERSHOOT, took
    assert plugin.metrics.snapshot().traps == 1
    failure, took = await _timed_failure(plugin)  # a fresh instance, and the deadline again
    assert (failure.reason, took < 1.0 + OVERSHOOT) == ("timeout", True)


async def test_a_sleep_within_the_deadline_sleeps_and_answers(load: Load) -> None:
    plugin = load(sleeper(ns=50_000_000), limits={"timeout_ms": 1000})
    started = time.monotonic()
    assert await plugin.call("endpoint", "{}") == "{}"
    assert 0.05 <= time.monotonic() - started < 0.5


async def test_repeated_short_sleeps_cannot_outlast_the_deadline(load: Load) -> None:
    body = "(loop $nap (call $sleep (i64.const 20000000)) (br $nap)) (i32.const 0)"
    plugin = load(component(body, sleep=True), limits={"timeout_ms": 300})
    failure, took = await _timed_failure(plugin)
    assert failure.reason == "timeout", failure
    assert took < 0.3 + OVERSHOOT


class _StuckKV(MemoryKV):
    async def get(self, key: str) -> bytes | None:
        await asyncio.sleep(60)
        return None


async def test_a_host_call_gets_only_what_is_left_of_the_deadline(load: Load) -> None:
    wasm = component(FORWARD.format(name="kv_get", size=1), imports=["kv-get"], data=["k"])
    plugin = load(wasm, kv=_StuckKV(), permissions={"kv": True}, limits={"timeout_ms": 400})
    failure, took = await _timed_failure(plugin)
    assert failure.reason == "timeout", failure  # not the KV's own 2 s, and not an err
    assert "deadline exceeded" in failure.message
    assert 0.4 <= took < 0.4 + OVERSHOOT


async def test_llm_chat_is_cut_at_the_call_deadline(load: Load) -> None:
    async def slow_chat(plugin: str, body: bytes) -> bytes:
        await asyncio.sleep(60)  # llm_timeout_ms would allow 60 s
        return b"{}"

    request = '{"model":"m","messages":[]}'
    wasm = component(
        FORWARD.format(name="llm_chat", size=len(request)), imports=["llm-chat"], data=[request]
    )
    plugin = load(wasm, llm=slow_chat, permissions={"llm": ["m"]}, limits={"timeout_ms": 500})
    failure, took = await _timed_failure(plugin)
    assert failure.reason == "timeout", failure
    assert 0.5 <= took < 0.5 + OVERSHOOT


async def test_a_guest_running_when_the_engine_closes_still_ends_by_its_deadline(
    engine: SandboxEngine, load: Load
) -> None:
    plugin = load(component("(loop $spin (br $spin)) (i32.const 0)"), limits={"timeout_ms": 300})
    call = asyncio.create_task(_timed_failure(plugin))
    await asyncio.sleep(0.05)
    engine.close()  # the epoch keeps ticking until this guest has left
    failure, took = await call
    assert failure.reason == "timeout", failure
    assert took < 0.3 + OVERSHOOT
