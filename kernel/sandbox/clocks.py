"""``wasi:clocks/monotonic-clock`` that honours the call's deadline.

A guest sleeps (``time.sleep``, ``asyncio``) by subscribing to the monotonic clock and blocking
in ``wasi:io/poll``. Wasmtime runs that wait inside the host, where epoch interruption cannot
reach it, so ``time.sleep(3600)`` would hold its thread for an hour. Every other pollable a
sandboxed guest can make is ready at once (stdin is empty, output is captured, no file or
socket can be opened), so the clock is the only wait: the plugin's linker shadows the clock
interface and cuts each subscription to end at the call's deadline. The pollable itself still
comes from wasmtime's WASI (``poll`` accepts no other kind), made by a tiny timer component
instantiated in the same store.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import wasmtime
from wasmtime.component import Component, Func, Linker, LinkerInstance

from kernel.sandbox.deadline import CallScope

__all__ = ["CLOCK_INTERFACE", "TimerFactory", "add_clocks"]

CLOCK_INTERFACE = "wasi:clocks/monotonic-clock@0.2"
"""Imports named ``<this>.<patch>`` are shadowed; ``@0.2.0`` resolves to wasmtime's 0.2.x."""

_TIMER_WAT = """
(component
  (import "wasi:io/poll@0.2.0" (instance $poll (export "pollable" (type (sub resource)))))
  (alias export $poll "pollable" (type $pollable))
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock
    (alias outer 1 $pollable (type $p))
    (export "pollable" (type $pp (eq $p)))
    (type $own (own $pp))
    (export "subscribe-duration" (func (param "when" u64) (result $own)))))
  (core func $subscribe (canon lower (func $clock "subscribe-duration")))
  (core module $Timer
    (import "clock" "subscribe" (func $subscribe (param i64) (result i32)))
    (func (export "timer") (param i64) (result i32) (call $subscribe (local.get 0))))
  (core instance $timer
    (instantiate $Timer (with "clock" (instance (export "subscribe" (func $subscribe))))))
  (type $own (own $pollable))
  (func (export "timer") (param "nanoseconds" u64) (result $own)
    (canon lift (core func $timer "timer"))))
"""


class _Timer:
    def __init__(self, func: Func) -> None:
        self._func = func
        self.used = False

    def __call__(self, store: Any, nanoseconds: int) -> object:
        self.used = True
        return self._func(store, nanoseconds)


class TimerFactory:
    """The timer component, compiled once per engine, instantiated into each guest's store."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._component = Component(engine, wasmtime.wat2wasm(_TIMER_WAT))
        self._linker = Linker(engine)
        self._linker.add_wasip2()

    def instantiate(self, store: wasmtime.Store) -> _Timer:
        """A timer living in ``store`` (whose WASI context its pollables belong to)."""
        func = self._linker.instantiate(store, self._component).get_func(store, "timer")
        if func is None:
            raise wasmtime.WasmtimeError("the timer component exports no 'timer'")
        return _Timer(func)


def _clock_functions(calls: CallScope) -> dict[str, Any]:
    resolution = max(1, round(time.get_clock_info("monotonic").resolution * 1e9))

    def now(_store: Any) -> int:
        return time.monotonic_ns()

    def subscribe_duration(store: Any, nanoseconds: int) -> object:
        return calls.current().sleep(store, nanoseconds)

    def subscribe_instant(store: Any, when: int) -> object:
        return calls.current().sleep(store, max(0, when - time.monotonic_ns()))

    return {
        "now": now,
        "resolution": lambda _store: resolution,
        "subscribe-duration": subscribe_duration,
        "subscribe-instant": subscribe_instant,
    }


def add_clocks(linker: Linker, imports: Iterable[str], calls: CallScope) -> None:
    """Shadow every ``wasi:clocks/monotonic-clock@0.2.*`` in ``imports`` (after ``add_wasip2``)."""
    names = [name for name in imports if name.startswith(CLOCK_INTERFACE + ".")]
    if not names:
        return
    linker.allow_shadowing = True
    root: LinkerInstance
    with linker.root() as root:
        for name in names:
            with root.add_instance(name) as clock:
                for func, impl in _clock_functions(calls).items():
                    clock.add_func(func, impl)
    linker.allow_shadowing = False
