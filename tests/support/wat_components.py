"""Tiny WebAssembly components written in WAT, for sandbox tests (each compiles in ~10 ms).

``component(body)`` builds a component exporting the Enclava world's ``handle`` and
``describe``; ``body`` is the core function body of ``handle`` with ``$kind``/``$kind_len``/
``$req``/``$req_len`` params. ``(call $ret (i32.const 0|1) PTR LEN)`` returns ok (0) or err
(1) with the string at PTR; constants live in data segments from address 256.
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
    "http-fetch": (f'(func (param "request" string) {_RESULT})', "(param i32 i32 i32)"),
    "llm-chat": (f'(func (param "request" string) {_RESULT})', "(param i32 i32 i32)"),
    "config-get": (f'(func (param "key" string) {_RESULT})', "(param i32 i32 i32)"),
}
_CANON = '(memory (core memory $mem "memory")) (realloc (core func $mem "realloc"))'


def _escape(text: str) -> str:
    return "".join(c if c.isalnum() or c in " {}:,._-/" else f"\\{ord(c):02x}" for c in text)


def component(
    body: str,
    *,
    imports: Sequence[str] = (),
    data: Sequence[str] = (),
    foreign: str | None = None,
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
  (core module $Main
    (import "env" "memory" (memory 1))
    {core_imports}
    {foreign_core}
    {"".join(segments)}
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
    {foreign_with}))
  (func (export "handle") (param "kind" string) (param "request" string) {_RESULT}
    (canon lift (core func $main "handle") {_CANON}))
  (func (export "describe") (result string)
    (canon lift (core func $main "describe") {_CANON})))
"""
    return wasmtime.wat2wasm(wat)
