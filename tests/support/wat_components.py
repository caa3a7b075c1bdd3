"""Tiny WebAssembly components written in WAT, for sandbox tests (each compiles in ~10 ms).

``component(body)`` builds a component exporting the Enclava world's ``handle`` and
``describe``; ``body`` is the core function body of ``handle`` with ``$kind``/``$kind_len``/
``$req``/``$req_len`` params. ``(call $ret (i32.const 0|1) PTR LEN)`` returns ok (0) or err
(1) with the string at PTR; constants live in data segments from address 256.
``(call $itoa N AT)`` writes N in decimal at AT and returns its length. With ``sleep=True``,
``(call $sleep NANOSECONDS)`` sleeps the way a Python guest's ``time.sleep`` does (WASI
``monotonic-clock.subscribe-duration``, then ``pollable.block``). ``memories=2`` gives the core
module a second memory, ``$extra``.
"""

from __future__ import annotations

from collections.abc import Sequence

import wasmtime

__all__ = ["IMPORTS", "component"]

_RESULT = "(result (result string (error string)))"
IMPORTS: dict[str, tuple[str, str]] = {
    "log": (
        '(func (param "level" string) (param "message" string))',
        "(param i32 i32 i32 i32)",
    ),
    "kv-get": (f'(func (param "key" string) {_RESULT})', "(param i32 i32 i32)"),
    "kv-incr": (
        f'(func (param "key" string) (param "delta" s64) {_RESULT})',
        "(param i32 i32 i64 i32)",
    ),
    "kv-add": (
        f'(func (param "key" string) (param "delta" s64) {_RESULT})',
        "(param i32 i32 i64 i32)",
    ),
    "http-fetch": (f'(func (param "request" string) {_RESULT})', "(param i32 i32 i32)"),
    "llm-chat": (f'(func (param "request" string) {_RESULT})', "(param i32 i32 i32)"),
    "config-get": (f'(func (param "key" string) {_RESULT})', "(param i32 i32 i32)"),
}
_CANON = '(memory (core memory $mem "memory")) (realloc (core func $mem "realloc"))'


def _escape(text: str) -> str:
    return "".join(c if c.isalnum() or c in " {}:,._-/" else f"\\{ord(c):02x}" for c in text)


_CLOCK_IMPORTS = """
  (import "wasi:io/poll@0.2.0" (instance $poll
    (export "pollable" (type $p (sub resource)))
    (type $b (borrow $p))
    (export "[method]pollable.block" (func (param "self" $b)))))
  (alias export $poll "pollable" (type $pollable))
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock
    (alias outer 1 $pollable (type $p))
    (export "pollable" (type $pp (eq $p)))
    (type $own (own $pp))
    (export "subscribe-duration" (func (param "when" u64) (result $own)))))
  (core func $h_subscribe (canon lower (func $clock "subscribe-duration")))
  (core func $h_block (canon lower (func $poll "[method]pollable.block")))
  (core func $h_drop (canon resource.drop $pollable))
"""
_CLOCK_CORE = """
    (import "clock" "subscribe" (func $subscribe (param i64) (result i32)))
    (import "clock" "block" (func $block (param i32)))
    (import "clock" "drop" (func $drop (param i32)))
    (func $sleep (param $ns i64) (local $p i32)
      (local.set $p (call $subscribe (local.get $ns)))
      (call $block (local.get $p))
      (call $drop (local.get $p)))
"""
_CLOCK_WITH = """(with "clock" (instance (export "subscribe" (func $h_subscribe))
    (export "block" (func $h_block)) (export "drop" (func $h_drop))))"""
_ITOA = """
    (func $itoa (param $n i32) (param $at i32) (result i32) (local $len i32) (local $end i32)
      (local.set $end (local.get $n))
      (local.set $len (i32.const 1))
      (block $counted (loop $count
        (br_if $counted (i32.lt_u (local.get $end) (i32.const 10)))
        (local.set $end (i32.div_u (local.get $end) (i32.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $count)))
      (local.set $end (i32.add (local.get $at) (local.get $len)))
      (loop $digit
        (local.set $end (i32.sub (local.get $end) (i32.const 1)))
        (i32.store8 (local.get $end)
          (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
        (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
        (br_if $digit (i32.gt_u (local.get $end) (local.get $at))))
      (local.get $len))
"""


def component(
    body: str,
    *,
    imports: Sequence[str] = (),
    data: Sequence[str] = (),
    foreign: str | None = None,
    sleep: bool = False,
    memories: int = 1,
) -> bytes:
    """Binary component; ``data`` strings are placed at 256, then each after the previous one.

    ``foreign`` adds an import of interface ``foreign`` (function ``f: func()``) as ``$foreign``.
    """
    decls = "\n".join(f'(export "{name}" {IMPORTS[name][0]})' for name in imports)
    lowered = "\n".join(
        f'(core func $h_{n.replace("-", "_")} (canon lower (func $host "{n}") {_CANON}))'
        for n in imports
    )
    core_imports = "\n".join(
        f'(import "host" "{n}" (func ${n.replace("-", "_")} {IMPORTS[n][1]}))' for n in imports
    )
    withs = " ".join(f'(export "{n}" (func $h_{n.replace("-", "_")}))' for n in imports)
    segments, offset = [], 256
    for text in data:
        segments.append(f'(data (i32.const {offset}) "{_escape(text)}")')
        offset += len(text.encode())
    foreign_import = foreign_lower = foreign_core = foreign_with = ""
    if foreign:
        foreign_import = f'(import "{foreign}" (instance $foreign (export "f" (func))))'
        foreign_lower = '(core func $h_foreign (canon lower (func $foreign "f")))'
        foreign_core = '(import "foreign" "f" (func $foreign))'
        foreign_with = '(with "foreign" (instance (export "f" (func $h_foreign))))'
    wat = f"""
(component
  (import "enclava:plugin/host@0.1.0" (instance $host {decls}))
  {foreign_import}
  (core module $Mem
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 8192))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $ptr i32)
      (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $ptr) (local.get 3)))
      (block $ok
        (br_if $ok (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (br_if $ok (i32.ne (i32.const -1) (memory.grow
          (i32.add (i32.const 1) (i32.div_u (global.get $heap) (i32.const 65536))))))
        unreachable)
      (local.get $ptr)))
  (core instance $mem (instantiate $Mem))
  {lowered}
  {foreign_lower}
  {_CLOCK_IMPORTS if sleep else ""}
  (core module $Main
    (import "env" "memory" (memory $main 1))
    {core_imports}
    {foreign_core}
    {_CLOCK_CORE if sleep else ""}
    {"(memory $extra 1)" if memories > 1 else ""}
    {"".join(segments)}
    {_ITOA}
    (func $ret (param $tag i32) (param $ptr i32) (param $len i32) (result i32)
      (i32.store8 (i32.const 128) (local.get $tag))
      (i32.store (i32.const 132) (local.get $ptr))
      (i32.store (i32.const 136) (local.get $len))
      (i32.const 128))
    (func (export "handle") (param $kind i32) (param $kind_len i32) (param $req i32)
                            (param $req_len i32) (result i32)
      {body})
    (func (export "describe") (result i32)
      (i32.store (i32.const 144) (i32.const 256))
      (i32.store (i32.const 148) (i32.const 0))
      (i32.const 144)))
  (core instance $main (instantiate $Main
    (with "env" (instance (export "memory" (memory $mem "memory"))))
    (with "host" (instance {withs}))
    {_CLOCK_WITH if sleep else ""}
    {foreign_with}))
  (func (export "handle") (param "kind" string) (param "request" string) {_RESULT}
    (canon lift (core func $main "handle") {_CANON}))
  (func (export "describe") (result string)
    (canon lift (core func $main "describe") {_CANON})))
"""
    return wasmtime.wat2wasm(wat)
