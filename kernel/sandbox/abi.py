"""The string ABI's fast path: ``handle(string, string) -> result<string, string>`` and the
``enclava:plugin/host`` imports, called without wasmtime-py's generic value conversion.

wasmtime-py converts every component value through its type objects, which it rebuilds from
the C API on each call: about 40 µs per boundary crossing in pure Python, which made a chat
filter with six host calls cost more in conversion than in the guest. Our ABI has a handful of
fixed shapes (strings, an ``s64``, an ``option<u32>``; results ``result<string, string>`` or
none), so this module reads and writes exactly those ``wasmtime_component_val_t`` shapes:

- :func:`fast_handle` checks an export's type once, after instantiation, and returns a caller
  that takes the two strings; any other type keeps the generic ``Func.__call__``.
- :func:`add_host_func` registers a host function of :data:`SIGNATURES`; arguments of other
  kinds than the WIT declares trap the guest, and wasmtime type-checks what we return against
  the import's declared type (a mismatch traps too), so a component declaring other types for
  our imports gets traps, never misread values.

Errors keep wasmtime-py's own path (``catch_exceptions`` / ``enter_wasm``), so traps, deadline
exceptions raised in host functions and limits surface exactly as with the generic calls. This
uses wasmtime-py's ``_ffi`` bindings, pinned with the package (``wasmtime>=50.0.1,<51``).
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime.component import Func, LinkerInstance, ResultType, String, Variant
from wasmtime.component._enter import catch_exceptions, enter_wasm

__all__ = ["SIGNATURES", "FastHandle", "add_host_func", "fast_handle"]

FastHandle = Callable[[wasmtime.Store, str, str], Variant]
HostFunc = Callable[..., Any]
_VAL = ffi.wasmtime_component_val_t
_STRING = ffi.WASMTIME_COMPONENT_STRING.value
_S64 = ffi.WASMTIME_COMPONENT_S64.value
_U32 = ffi.WASMTIME_COMPONENT_U32.value
_OPTION = ffi.WASMTIME_COMPONENT_OPTION.value
_RESULT = ffi.WASMTIME_COMPONENT_RESULT.value
_TTL = -1
"""``option<u32>``: the one non-string, non-s64 parameter of the interface."""
SIGNATURES: dict[str, tuple[int, ...]] = {
    "log": (_STRING, _STRING),
    "kv-get": (_STRING,),
    "kv-set": (_STRING, _STRING, _TTL),
    "kv-delete": (_STRING,),
    "kv-incr": (_STRING, _S64),
    "kv-add": (_STRING, _S64),
    "http-fetch": (_STRING,),
    "llm-chat": (_STRING,),
    "config-get": (_STRING,),
}
"""Parameter kinds of every ``enclava:plugin/host`` function, as ``sdk/wit`` declares them."""
_FUNCS: dict[int, tuple[HostFunc, tuple[int, ...]]] = {}
_IDS = itertools.count(1)


def _text(vec: Any) -> str:
    return ctypes.string_at(vec.data, vec.size).decode("utf-8") if vec.size else ""


def _set_string(val: Any, text: str) -> None:
    encoded = text.encode("utf-8")
    vec = ffi.wasm_byte_vec_t()
    ffi.wasm_byte_vec_new_uninitialized(ctypes.byref(vec), len(encoded))
    if encoded:
        ctypes.memmove(vec.data, encoded, len(encoded))
    val.kind = _STRING
    val.of.string = vec


def _mistyped() -> wasmtime.WasmtimeError:
    return wasmtime.WasmtimeError("a host function was called with types it does not take")


def _lift(val: Any, kind: int) -> Any:
    """The Python value of one host-call argument, which must be of ``kind``."""
    if kind == _TTL:
        if val.kind != _OPTION:
            raise _mistyped()
        inner = val.of.option
        if not inner:
            return None
        if inner.contents.kind != _U32:
            raise _mistyped()
        return inner.contents.of.u32
    if val.kind != kind:
        raise _mistyped()
    return _text(val.of.string) if kind == _STRING else val.of.s64


def _lower_result(store: Any, out: Any, answer: Any) -> None:
    if not isinstance(answer, Variant) or not isinstance(answer.payload, str):
        raise wasmtime.WasmtimeError("a host function answered outside result<string, string>")
    payload = _VAL()
    _set_string(payload, answer.payload)
    out.kind = _RESULT
    out.of.result.is_ok = answer.tag == "ok"
    out.of.result.val = ffi.wasmtime_component_val_new(ctypes.byref(payload))


@ffi.wasmtime_component_func_callback_t  # type: ignore[untyped-decorator]
def _host_impl(  # type: ignore[no-untyped-def]
    idx: Any, context: Any, _ty: Any, args: Any, nargs: int, results: Any, nres: int
):
    def run(store: Any) -> None:
        func, kinds = _FUNCS[idx or 0]
        if nargs != len(kinds):
            raise _mistyped()
        answer = func(store, *[_lift(args[i], kind) for i, kind in enumerate(kinds)])
        if nres == 1:
            _lower_result(store, results[0], answer)
        elif nres != 0 or answer is not None:
            raise wasmtime.WasmtimeError("a host function answered outside its type")

    return catch_exceptions(context, run)


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def _finalize(idx: Any) -> None:
    _FUNCS.pop(idx or 0, None)


def add_host_func(instance: LinkerInstance, name: str, func: HostFunc) -> None:
    """Like ``instance.add_func(name, func)`` for the function ``name`` of
    ``enclava:plugin/host`` (a key of :data:`SIGNATURES`)."""
    key = next(_IDS)
    _FUNCS[key] = (func, SIGNATURES[name])
    encoded = name.encode("utf-8")
    err = ffi.wasmtime_component_linker_instance_add_func(
        instance.ptr(),
        ctypes.create_string_buffer(encoded),
        len(encoded),
        _host_impl,
        key,
        _finalize,
    )
    if err:
        _FUNCS.pop(key, None)
        raise wasmtime.WasmtimeError._from_ptr(err)


def _is_string_abi(func: Func, store: wasmtime.Store) -> bool:
    kind = func.type(store)
    params, result = kind.params, kind.result
    return (
        len(params) == 2
        and all(isinstance(ty, String) for _, ty in params)
        and isinstance(result, ResultType)
        and isinstance(result.ok, String)
        and isinstance(result.err, String)
    )


def _read_result(val: Any) -> Variant:
    ok = bool(val.of.result.is_ok)
    inner = val.of.result.val
    text = _text(inner.contents.of.string) if inner else ""
    return Variant("ok" if ok else "err", text)


def fast_handle(func: Func, store: wasmtime.Store) -> FastHandle | None:
    """A direct caller of ``func`` when its type is ``(string, string) -> result<string,
    string>``, else None (then call ``func`` itself)."""
    if not _is_string_abi(func, store):
        return None
    raw = func._func

    def call(store: wasmtime.Store, kind: str, request: str) -> Variant:
        params = (_VAL * 2)()
        result = _VAL()
        _set_string(params[0], kind)
        _set_string(params[1], request)
        try:
            enter_wasm(
                lambda: ffi.wasmtime_component_func_call(
                    ctypes.byref(raw), store._context(), params, 2, ctypes.byref(result), 1
                )
            )
            if result.kind != _RESULT:
                raise wasmtime.WasmtimeError("handle returned a value outside its type")
            return _read_result(result)
        finally:
            ffi.wasmtime_component_val_delete(ctypes.byref(params[0]))
            ffi.wasmtime_component_val_delete(ctypes.byref(params[1]))
            ffi.wasmtime_component_val_delete(ctypes.byref(result))

    return call
