"""Hostile guests: each is contained with a clear error while other plugins keep serving."""

from __future__ import annotations

import asyncio

import pytest
from support.wat_components import component

from kernel.sandbox import CallFailed, SandboxedPlugin
from kernel.sandbox.pool import TABLE_BYTES

from .conftest import Load

ECHO = "(call $ret (i32.const 0) (local.get $req) (local.get $req_len))"
LOOP = "(loop $forever (br $forever)) (i32.const 0)"
MEMORY_BOMB = """
  (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
  (call $log (i32.const 256) (i32.const 4) (i32.const 1024)
             (call $itoa (memory.size) (i32.const 1024)))
  unreachable
"""
TWO_MEMORY_BOMB = """
  (loop $grow (br_if $grow (i32.ne (memory.grow $main (i32.const 1)) (i32.const -1))))
  (loop $more (br_if $more (i32.ne (memory.grow $extra (i32.const 1)) (i32.const -1))))
  (call $log (i32.const 256) (i32.const 4) (i32.const 1024) (call $itoa
    (i32.add (memory.size $main) (memory.size $extra)) (i32.const 1024)))
  unreachable
"""
PAGE = 65_536
MIB = 1024 * 1024
HUGE = """
  (drop (memory.grow (i32.const 64)))
  (call $ret (i32.const 0) (i32.const 65536) (i32.const 4000000))
"""
FETCH = """
  (call $http_fetch (i32.const 256) (i32.const {size}) (i32.const 512))
  (call $ret (i32.load8_u (i32.const 512)) (i32.load (i32.const 516)) (i32.load (i32.const 520)))
"""
KV_GET = """
  (call $kv_get (i32.const 256) (i32.const 1) (i32.const 512))
  (call $ret (i32.load8_u (i32.const 512)) (i32.load (i32.const 516)) (i32.load (i32.const 520)))
"""


async def _fails(plugin: SandboxedPlugin, reason: str) -> CallFailed:
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert info.value.reason == reason, info.value
    return info.value


async def test_infinite_loop_hits_the_deadline_and_the_instance_is_replaced(load: Load) -> None:
    looping = load(component(LOOP), limits={"timeout_ms": 50})
    healthy = load(component(ECHO))
    spin = asyncio.create_task(_fails(looping, "timeout"))
    assert await healthy.call("endpoint", '"still serving"') == '"still serving"'
    await spin
    await _fails(looping, "timeout")  # a fresh instance, deadline enforced again
    assert looping.metrics.snapshot().traps == 2


def _pages_logged(plugin: SandboxedPlugin) -> int:
    return int(plugin.logs.lines()[-1].message)


async def test_memory_bomb_is_capped(load: Load) -> None:
    bomb = load(component(MEMORY_BOMB, imports=["log"], data=["info"]), limits={"memory_mb": 16})
    failure = await _fails(bomb, "trap")
    assert "unreachable" in failure.message
    peak = _pages_logged(bomb) * PAGE  # measured by the guest once growing failed, then it trapped
    assert 16 * MIB - TABLE_BYTES <= peak <= 16 * MIB


async def test_a_second_memory_is_refused_so_the_cap_holds_in_total(load: Load) -> None:
    wasm = component(TWO_MEMORY_BOMB, imports=["log"], data=["info"], memories=2)
    bomb = load(wasm, limits={"memory_mb": 16})
    with pytest.raises(Exception, match="a plugin may have 1 linear memory"):
        await bomb.warm()
    failure = await _fails(bomb, "trap")
    assert failure.message.startswith("cannot instantiate: refused: a plugin may have 1 linear")
    assert not bomb.logs.lines()  # it never ran


async def test_huge_response_is_refused(load: Load) -> None:
    await _fails(load(component(HUGE), limits={"memory_mb": 32}), "too_large")


async def test_host_function_not_granted_is_refused(load: Load) -> None:
    without_kv = load(component(KV_GET, imports=["kv-get"], data=["k"]))
    failure = await _fails(without_kv, "error")
    assert failure.message == "kv-get is not granted: add permissions.kv to plugin.toml"


async def test_import_outside_the_world_fails_instantiation(load: Load) -> None:
    evil = load(component("(call $foreign) (i32.const 0)", foreign="evil:net/raw@1.0.0"))
    with pytest.raises(Exception, match="evil:net/raw"):
        await evil.warm()
    failure = await _fails(evil, "trap")
    assert failure.message.startswith("cannot instantiate")


async def test_http_fetch_to_a_host_off_the_allowlist_is_an_err(load: Load) -> None:
    request = '{"url":"http://169.254.169.254/latest/meta-data"}'
    wasm = component(FETCH.format(size=len(request)), imports=["http-fetch"], data=[request])
    plugin = load(wasm, permissions={"http": ["api.example.com"]})
    failure = await _fails(plugin, "error")
    assert "not on this plugin's http allowlist" in failure.message


async def test_oversized_request_is_refused_before_the_guest(load: Load) -> None:
    plugin = load(component(ECHO), limits={"max_request_bytes": 10})
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "x" * 11)
    assert info.value.reason == "too_large"


async def test_a_chat_filter_gets_requests_beyond_max_request_bytes(load: Load) -> None:
    """The gateway's body limit bounds a filter's request, not the endpoints' own limit."""
    plugin = load(component(ECHO), limits={"max_request_bytes": 10}, filter={"order": 1})
    assert await plugin.call("filter-request", "x" * 11) == "x" * 11
