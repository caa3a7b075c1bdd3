"""Warm instances of one plugin, each in its own Store with a memory cap and captured output.

An instance serves one call at a time; a trapped one is closed and never handed out again.
Instances are created lazily on a call thread, within the deadline of the call that needs one.
Each instance keeps the plugin configuration it was created with, and ``config-get`` answers
from it, so a guest may cache what it read (the SDK does); an idle instance whose configuration
is no longer the plugin's current one is closed instead of handed out.

Memory is capped per instance, memories and tables together. Wasmtime's store limits bound each
linear memory and each table separately, so a store gets one linear memory (what every
component built by componentize-py has) of ``limits.memory_mb`` less the table budget, and at
most :data:`MAX_TABLES` tables of :data:`MAX_TABLE_ELEMENTS` elements. A component declaring
more is refused when it is loaded, with the rule in the message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import wasmtime
from wasmtime.component import Component, Func, Linker

from kernel.sandbox.abi import FastHandle, fast_handle
from kernel.sandbox.deadline import CallScope, CurrentCall, Deadline, Timer
from kernel.sandbox.engine import SandboxEngine
from kernel.sandbox.logs import LogBuffer

__all__ = [
    "MAX_MEMORIES",
    "MAX_TABLES",
    "MAX_TABLE_ELEMENTS",
    "TABLE_BYTES",
    "InstancePool",
    "WarmInstance",
]

MAX_MEMORIES = 1
MAX_TABLES = 4
MAX_TABLE_ELEMENTS = 32_768
TABLE_BYTES = MAX_TABLES * MAX_TABLE_ELEMENTS * 8
"""Wasmtime stores a table element in 8 bytes: 1 MiB for all tables together."""
MAX_CORE_INSTANCES = 32
_RULES = {
    "memory count too high": f"a plugin may have {MAX_MEMORIES} linear memory, which "
    "limits.memory_mb caps; this component declares more",
    "table count too high": f"a plugin may have at most {MAX_TABLES} tables; this component "
    "declares more",
    "instance count too high": f"a plugin may have at most {MAX_CORE_INSTANCES} core instances",
    "memory minimum size": "the component needs more memory at start than limits.memory_mb "
    f"allows (less {TABLE_BYTES // 1048576} MiB kept for tables)",
    "table minimum size": f"a plugin's tables may hold at most {MAX_TABLE_ELEMENTS} elements",
}


class WarmInstance:
    """A live instance: its Store, the ``handle`` and ``describe`` exports and its timer."""

    def __init__(
        self,
        store: wasmtime.Store,
        handle: Func,
        describe: Func | None,
        timer: Timer,
        config: Mapping[str, Any],
    ) -> None:
        self.store = store
        self.handle = handle
        self.describe = describe
        self.config = config
        self._timer = timer
        self._fast: FastHandle | None = fast_handle(handle, store)

    @property
    def slept(self) -> bool:
        """The guest was given a timer: it may still hold one and wait on it in a later call,
        inside wasmtime, where no epoch tick reaches (so never on the event loop)."""
        return self._timer.used

    def call_handle(self, kind: str, request: str) -> object:
        """``handle(kind, request)``: through the string ABI's fast path when its type allows."""
        if self._fast is not None:
            return self._fast(self.store, kind, request)
        return self.handle(self.store, kind, request)

    def call(self, deadline: Deadline, *, on_loop: bool = False) -> CurrentCall:
        """The :class:`CurrentCall` of a call on this instance ending at ``deadline``."""
        return CurrentCall(deadline, self._timer, self.config, on_loop=on_loop)

    def close(self) -> None:
        """Release the Store (and the instance's memory)."""
        self.store.close()


def _refusal(exc: wasmtime.WasmtimeError) -> wasmtime.WasmtimeError:
    text = str(exc)
    for marker, rule in _RULES.items():
        if marker in text:
            return wasmtime.WasmtimeError(f"refused: {rule}")
    return exc


class InstancePool:
    """Idle instances of one component; thread-safe."""

    def __init__(
        self,
        engine: SandboxEngine,
        component: Component,
        linker: Linker,
        *,
        calls: CallScope,
        memory_bytes: int,
        logs: LogBuffer,
        config: Callable[[], Mapping[str, Any]],
        environment: Mapping[str, str],
    ) -> None:
        self._engine = engine
        self._component = component
        self._linker = linker
        self._calls = calls
        self._memory_bytes = max(0, memory_bytes - TABLE_BYTES)
        self._logs = logs
        self._config = config
        self._environment = list(environment.items())
        self._idle: list[WarmInstance] = []
        self._lock = threading.Lock()
        self._closed = False

    def _store(self, deadline: Deadline) -> wasmtime.Store:
        store = wasmtime.Store(self._engine.engine)
        wasi = wasmtime.WasiConfig()  # no args, preopened dirs or sockets
        wasi.env = self._environment  # only what the host tells the guest (effects.DEFER_ENV)
        wasi.stdout_custom = self._logs.capture("stdout")
        wasi.stderr_custom = self._logs.capture("stderr")
        store.set_wasi(wasi)
        store.set_limits(
            memory_size=self._memory_bytes,
            table_elements=MAX_TABLE_ELEMENTS,
            instances=MAX_CORE_INSTANCES,
            tables=MAX_TABLES,
            memories=MAX_MEMORIES,
        )
        store.set_epoch_deadline(self._engine.ticks(deadline.remaining()))
        return store

    def _create(self, deadline: Deadline, config: Mapping[str, Any]) -> WarmInstance:
        store = self._store(deadline)
        try:
            timer = self._engine.timers.instantiate(store)
            with self._calls.running(CurrentCall(deadline, timer, config)):
                instance = self._linker.instantiate(store, self._component)
            handle = instance.get_func(store, "handle")
            if handle is None:
                raise wasmtime.WasmtimeError("the component exports no 'handle' function")
        except wasmtime.WasmtimeError as exc:
            store.close()
            raise _refusal(exc) from None
        except BaseException:
            store.close()
            raise
        describe = instance.get_func(store, "describe")
        return WarmInstance(store, handle, describe, timer, config)

    def take(self, deadline: Deadline) -> WarmInstance:
        """An idle instance created with the current configuration, or a new one instantiated
        before ``deadline`` (blocking: call on a call thread, inside ``SandboxEngine.running``
        so the epoch advances)."""
        config = dict(self._config())
        return self._take_idle(config, sleepers=True) or self._create(deadline, config)

    def take_idle(self) -> WarmInstance | None:
        """An idle instance created with the current configuration that never slept, or None;
        never instantiates nor waits, so it may be called on the event loop."""
        return self._take_idle(dict(self._config()), sleepers=False)

    def _take_idle(self, config: Mapping[str, Any], *, sleepers: bool) -> WarmInstance | None:
        """The most recently used idle instance created with ``config`` (one that never slept
        unless ``sleepers``); idle instances of another configuration are closed."""
        stale: list[WarmInstance] = []
        found: WarmInstance | None = None
        with self._lock:
            if self._closed:
                raise wasmtime.WasmtimeError("the plugin is unloaded")
            for instance in reversed(self._idle):
                if instance.config != config:
                    stale.append(instance)
                elif found is None and (sleepers or not instance.slept):
                    found = instance
            if found is not None or stale:
                self._idle = [i for i in self._idle if i is not found and i not in stale]
        for instance in stale:
            instance.close()
        return found

    def give(self, instance: WarmInstance) -> None:
        """Return a healthy instance for reuse."""
        with self._lock:
            if not self._closed:
                self._idle.append(instance)
                return
        instance.close()

    def close(self) -> None:
        """Close idle instances; instances in use are closed when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for instance in idle:
            instance.close()
