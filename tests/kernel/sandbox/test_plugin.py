"""Calls into WAT components: results, errors, host functions and their grants."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import pytest
from support.wat_components import component

from kernel.sandbox import CallFailed
from kernel.sandbox.imports import MAX_ADD_KEYS
from kernel.storage.kv import KV, Reservation, Reserved
from kernel.storage.kv_memory import MemoryKV
from kernel.storage.kv_redis import RedisKV

from .conftest import Load

OK = "(call $ret (i32.const 0) (i32.const 256) (i32.const 11))"
ECHO = "(call $ret (i32.const 0) (local.get $req) (local.get $req_len))"


async def test_ok_result_and_reuse_of_the_warm_instance(load: Load) -> None:
    plugin = load(component(OK, data=['{"a":true}x']))
    for _ in range(3):
        assert await plugin.call("endpoint", "{}") == '{"a":true}x'
    snapshot = plugin.metrics.snapshot()
    assert (snapshot.calls, snapshot.errors, snapshot.traps) == (3, 0, 0)


async def test_request_reaches_the_guest(load: Load) -> None:
    plugin = load(component(ECHO))
    assert await plugin.call("endpoint", '{"x":"é"}') == '{"x":"é"}'


async def test_err_result_is_an_error_not_a_trap(load: Load) -> None:
    plugin = load(
        component("(call $ret (i32.const 1) (i32.const 256) (i32.const 4))", data=["boom"])
    )
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert (info.value.reason, info.value.message) == ("error", "boom")
    assert plugin.metrics.snapshot().traps == 0


async def test_log_lines_are_captured(load: Load) -> None:
    body = f"(call $log (i32.const 256) (i32.const 4) (i32.const 260) (i32.const 2)) {ECHO}"
    plugin = load(component(body, imports=["log"], data=["infohi"]))
    await plugin.call("endpoint", "{}")
    assert [(line.stream, line.message) for line in plugin.logs.lines()] == [("info", "hi")]


def _forward(name: str) -> str:
    """Call host function ``name`` with the constant at 256 and return its result as ours."""
    return f"""
      (call ${name} (i32.const 256) (i32.const {{size}}) (i32.const 512))
      (call $ret (i32.load8_u (i32.const 512))
                 (i32.load (i32.const 516)) (i32.load (i32.const 520)))
    """


INCR_BY_5 = """
  (call $kv_incr (i32.const 256) (i32.const 7) (i64.const 5) (i32.const 512))
  (call $ret (i32.load8_u (i32.const 512))
             (i32.load (i32.const 516)) (i32.load (i32.const 520)))
"""
"""Adds 5 to "counter" and answers what kv-incr answered (the new value, or its error)."""


@pytest.fixture
async def store(kv_backend: str, redis_url: str, redis_prefix: str) -> AsyncIterator[KV]:
    """The plugin's KV: in memory, or the real Redis under a throwaway prefix."""
    if kv_backend == "memory":
        yield MemoryKV()
        return
    kv = RedisKV(redis_url, prefix=redis_prefix)
    yield kv
    await kv.close()


async def test_kv_incr_is_atomic_per_plugin_namespace(load: Load, store: KV) -> None:
    plugin = load(
        component(INCR_BY_5, imports=["kv-incr"], data=["counter"]),
        kv=store,
        permissions={"kv": True},
    )
    assert json.loads(await plugin.call("endpoint", "{}")) == 5
    assert json.loads(await plugin.call("endpoint", "{}")) == 10
    assert await store.get("wasm:fixture:counter") == b"10"


async def test_kv_incr_of_a_value_that_is_no_integer_fails_and_keeps_it(
    load: Load, store: KV
) -> None:
    await store.set("wasm:fixture:counter", b'"ten"')
    plugin = load(
        component(INCR_BY_5, imports=["kv-incr"], data=["counter"]),
        kv=store,
        permissions={"kv": True},
    )
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert info.value.message.startswith("kv-incr failed")
    assert await store.get("wasm:fixture:counter") == b'"ten"'


ADD_TWICE = """
  (call $kv_add (i32.const 256) (i32.const 7) (i64.const 2) (i32.const 512))
  (call $kv_add (i32.const 256) (i32.const 7) (i64.const 3) (i32.const 512))
  (call $ret (local.get $req_len) (i32.load (i32.const 516)) (i32.load (i32.const 520)))
"""
"""Adds 2 and 3 to "counter", then answers kv-add's ok value: as ok for a request of "",
as err for a one-byte request."""


async def test_kv_add_is_made_once_the_call_returned_ok(load: Load, store: KV) -> None:
    wasm = component(ADD_TWICE, imports=["kv-add"], data=["counter"])
    plugin = load(wasm, kv=store, permissions={"kv": True})
    assert json.loads(await plugin.call("endpoint", "")) is None
    assert await store.get("wasm:fixture:counter") == b"5"
    await plugin.call("endpoint", "")
    assert await store.get("wasm:fixture:counter") == b"10"


async def test_kv_add_of_a_failed_call_is_dropped(load: Load) -> None:
    kv = MemoryKV()
    wasm = component(ADD_TWICE, imports=["kv-add"], data=["counter"])
    plugin = load(wasm, kv=kv, permissions={"kv": True})
    with pytest.raises(CallFailed):
        await plugin.call("endpoint", "x")
    assert await kv.get("wasm:fixture:counter") is None


async def test_kv_add_stops_at_max_keys_per_call(load: Load) -> None:
    body = f"""
      (local $i i32) (local $len i32)
      (loop $next
        (local.set $len (call $itoa (local.get $i) (i32.const 600)))
        (call $kv_add (i32.const 600) (local.get $len) (i64.const 1) (i32.const 512))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.le_u (local.get $i) (i32.const {MAX_ADD_KEYS}))))
      (call $ret (i32.load8_u (i32.const 512))
                 (i32.load (i32.const 516)) (i32.load (i32.const 520)))
    """
    kv = MemoryKV()
    plugin = load(component(body, imports=["kv-add"]), kv=kv, permissions={"kv": True})
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "")
    assert info.value.message == f"kv-add reached {MAX_ADD_KEYS} keys in this call"
    assert await kv.get("wasm:fixture:0") is None  # the call failed: none of its adds is made


class _DownKV(MemoryKV):
    async def reserve_many(self, batches: Sequence[Sequence[Reservation]]) -> list[Reserved]:
        raise ConnectionError("the store is down")


async def test_kv_add_that_the_store_cannot_take_fails_the_call(load: Load) -> None:
    wasm = component(ADD_TWICE, imports=["kv-add"], data=["counter"])
    plugin = load(wasm, kv=_DownKV(), permissions={"kv": True})
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "")
    assert (info.value.reason, info.value.message) == ("error", "kv-add failed: ConnectionError")


async def test_kv_add_without_the_kv_permission_is_refused(load: Load) -> None:
    body = """
      (call $kv_add (i32.const 256) (i32.const 7) (i64.const 1) (i32.const 512))
      (call $ret (i32.load8_u (i32.const 512))
                 (i32.load (i32.const 516)) (i32.load (i32.const 520)))
    """
    plugin = load(component(body, imports=["kv-add"], data=["counter"]))
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert info.value.message == "kv-add is not granted: add permissions.kv to plugin.toml"


async def test_config_get_returns_admin_value_then_manifest_default(load: Load) -> None:
    wasm = component(_forward("config_get").format(size=4), imports=["config-get"], data=["mode"])
    schema = {"mode": {"type": "string", "default": "lax"}}
    configured = load(wasm, values={"mode": "strict"}, config=schema)
    assert json.loads(await configured.call("endpoint", "{}")) == "strict"
    default = load(wasm, config=schema)
    assert json.loads(await default.call("endpoint", "{}")) == "lax"
    unset = load(wasm)
    assert json.loads(await unset.call("endpoint", "{}")) is None
