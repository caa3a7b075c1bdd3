"""Chat filters tried on the event loop's thread: what runs there, and what goes to a thread."""

from __future__ import annotations

import threading
import time

import pytest
from support.wat_components import component

from kernel.sandbox import CallFailed
from kernel.sandbox.plugin import MAX_LOOP_MISSES
from kernel.storage.kv_memory import MemoryKV

from .conftest import Load

FILTER = '{"body": {"messages": []}, "context": {}}'
ECHO = "(call $ret (i32.const 0) (local.get $req) (local.get $req_len))"
LOG_THEN_GET = """
  (call $log (i32.const 256) (i32.const 4) (i32.const 260) (i32.const 6))
  (call $kv_get (i32.const 266) (i32.const 1) (i32.const 512))
  (call $ret (i32.load8_u (i32.const 512)) (i32.load (i32.const 516)) (i32.load (i32.const 520)))
"""
"""Logs "before", then answers kv-get("k"): a host call that waits."""
SPIN = "(loop $spin (br $spin)) (i32.const 0)"


def _call_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("wasm-fixture")}


async def test_a_filter_that_needs_no_wait_runs_on_the_loop(load: Load) -> None:
    plugin = load(
        component(
            f"(call $log (i32.const 256) (i32.const 4) (i32.const 260) (i32.const 2)) {ECHO}",
            imports=["log"],
            data=["infohi"],
        ),
        filter={"request": True},
    )
    await plugin.warm()
    for _ in range(3):
        assert await plugin.call("filter-request", FILTER) == FILTER
    assert _call_threads() == set()  # no call thread was ever started
    assert [line.message for line in plugin.logs.lines()] == ["hi"] * 3


async def test_without_a_warm_instance_the_filter_runs_on_a_thread(load: Load) -> None:
    plugin = load(component(ECHO), filter={"request": True})
    assert await plugin.call("filter-request", FILTER) == FILTER  # instantiating could block
    assert _call_threads() == {"wasm-fixture-filter-1"}


async def test_a_filter_that_waits_runs_again_on_a_thread_and_logs_once(load: Load) -> None:
    kv = MemoryKV()
    await kv.set("wasm:fixture:k", b'"stored"')
    wasm = component(LOG_THEN_GET, imports=["log", "kv-get"], data=["infobefore", "k"])
    plugin = load(wasm, kv=kv, permissions={"kv": True}, filter={"request": True})
    await plugin.warm()
    assert await plugin.call("filter-request", FILTER) == '"stored"'
    assert _call_threads() == {"wasm-fixture-filter-1"}
    assert [line.message for line in plugin.logs.lines()] == ["before"]
    assert plugin.metrics.snapshot().traps == 0


async def test_after_repeated_misses_the_filter_only_runs_on_threads(load: Load) -> None:
    wasm = component(LOG_THEN_GET, imports=["log", "kv-get"], data=["infobefore", "k"])
    plugin = load(wasm, kv=MemoryKV(), permissions={"kv": True}, filter={"request": True})
    for _ in range(MAX_LOOP_MISSES + 3):
        await plugin.warm()  # an idle instance each time, so every call could be tried
        assert await plugin.call("filter-request", FILTER) == "null"
    assert plugin._loop_misses == MAX_LOOP_MISSES  # then no more tries on the loop


async def test_a_spinning_filter_is_cut_on_the_loop_then_times_out_on_its_thread(
    load: Load,
) -> None:
    plugin = load(component(SPIN), filter={"request": True}, limits={"timeout_ms": 300})
    await plugin.warm()
    loop_blocked = time.monotonic()
    with pytest.raises(CallFailed) as info:
        await plugin.call("filter-request", FILTER)
    assert info.value.reason == "timeout"
    assert plugin.metrics.snapshot().traps == 1  # the cut on the loop is no failure
    assert time.monotonic() - loop_blocked < 0.3 + 0.05 + 0.15


async def test_an_instance_given_a_timer_never_runs_on_the_loop(load: Load) -> None:
    # It could keep the pollable and wait on it in a later call, inside wasmtime
    naps = f"(call $sleep (i64.const 1000)) {ECHO}"
    plugin = load(component(naps, sleep=True), filter={"request": True})
    await plugin.warm()
    assert await plugin.call("filter-request", FILTER) == FILTER  # would wait: rerun on a thread
    assert _call_threads() == {"wasm-fixture-filter-1"}
    misses = plugin._loop_misses
    assert await plugin.call("filter-request", FILTER) == FILTER  # its instance slept: no try
    assert plugin._loop_misses == misses


async def test_runs_slower_than_a_tick_are_misses_even_when_they_finish(load: Load) -> None:
    spins = """
      (local $i i32)
      (loop $spin (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $spin (i32.lt_u (local.get $i) (i32.const 50000000))))
      (call $ret (i32.const 0) (local.get $req) (local.get $req_len))
    """
    # 50 million rounds take well over a tick: cut on the loop, or finished there too late
    plugin = load(component(spins), filter={"request": True})
    await plugin.warm()
    assert await plugin.call("filter-request", FILTER) == FILTER
    assert plugin._loop_misses == 1
