"""The string ABI's fast path (:mod:`kernel.sandbox.abi`) and per-instance configuration: a
component declaring other types for our imports traps instead of being misread, an export of
another type keeps the generic call, and a configuration change replaces instances."""

from __future__ import annotations

import json

import pytest
import wasmtime
from support import wat_components
from support.wat_components import component

from kernel.sandbox import CallFailed

from .conftest import Load

FORWARD_CONFIG = """
  (call $config_get (i32.const 256) (i32.const 4) (i32.const 512))
  (call $ret (i32.load8_u (i32.const 512)) (i32.load (i32.const 516)) (i32.load (i32.const 520)))
"""
OK = "(call $ret (i32.const 0) (i32.const 256) (i32.const 4))"


async def test_host_calls_and_results_cross_the_fast_path_intact(load: Load) -> None:
    body = f"""
      (call $log (i32.const 256) (i32.const 4) (i32.const 260) (i32.const 8))
      (call $kv_incr (i32.const 268) (i32.const 1) (i64.const -3) (i32.const 512))
      {FORWARD_CONFIG}
    """
    wasm = component(body, imports=["log", "kv-incr", "config-get"], data=["infoé ünï", "c"])
    plugin = load(wasm, values={"info": {"x": "ü"}}, permissions={"kv": True})
    assert json.loads(await plugin.call("endpoint", "{}")) == {"x": "ü"}
    assert [(line.stream, line.message) for line in plugin.logs.lines()] == [("info", "é ünï")]


async def test_an_import_with_another_result_type_traps(
    load: Load, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        wat_components.IMPORTS,
        "config-get",
        ('(func (param "key" string) (result u32))', "(param i32 i32) (result i32)"),
    )
    body = f"(drop (call $config_get (i32.const 256) (i32.const 4))) {OK}"
    plugin = load(component(body, imports=["config-get"], data=["mode"]))
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert info.value.reason == "trap"


async def test_an_import_with_other_parameter_types_traps(
    load: Load, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = "(result (result string (error string)))"
    monkeypatch.setitem(
        wat_components.IMPORTS,
        "config-get",
        (f'(func (param "key" u32) {result})', "(param i32 i32)"),
    )
    body = f"(call $config_get (i32.const 7) (i32.const 512)) {OK}"
    plugin = load(component(body, imports=["config-get"], data=["mode"]))
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert info.value.reason == "trap"


# ``handle`` returning a plain string: not our ABI, so the generic call runs and the answer is
# refused as malformed (never read as if it were a result).
STRING_HANDLE = """
(component
  (core module $M
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $at i32)
      (local.set $at (global.get $heap))
      (global.set $heap (i32.add (global.get $heap) (local.get 3)))
      (local.get $at))
    (data (i32.const 256) "ok")
    (func (export "handle") (param i32 i32 i32 i32) (result i32)
      (i32.store (i32.const 128) (i32.const 256))
      (i32.store (i32.const 132) (i32.const 2))
      (i32.const 128)))
  (core instance $m (instantiate $M))
  (func (export "handle") (param "kind" string) (param "request" string) (result string)
    (canon lift (core func $m "handle") (memory (core memory $m "memory"))
      (realloc (core func $m "realloc")))))
"""


async def test_a_handle_of_another_type_keeps_the_generic_call(load: Load) -> None:
    plugin = load(wasmtime.wat2wasm(STRING_HANDLE))
    with pytest.raises(CallFailed) as info:
        await plugin.call("endpoint", "{}")
    assert (info.value.reason, info.value.message) == (
        "error",
        "handle returned a malformed value",
    )


async def test_a_configuration_change_replaces_the_instances(load: Load) -> None:
    values = {"mode": "strict"}
    wasm = component(FORWARD_CONFIG, imports=["config-get"], data=["mode"])
    plugin = load(wasm, values=values)
    assert json.loads(await plugin.call("endpoint", "{}")) == "strict"
    first = plugin._pool._idle[-1]  # which instance served it
    assert json.loads(await plugin.call("endpoint", "{}")) == "strict"
    assert plugin._pool._idle[-1] is first  # unchanged: the warm one again
    values["mode"] = "lax"
    assert json.loads(await plugin.call("endpoint", "{}")) == "lax"
    assert plugin._pool._idle == [plugin._pool._idle[-1]]
    assert plugin._pool._idle[-1] is not first  # the stale one was closed
