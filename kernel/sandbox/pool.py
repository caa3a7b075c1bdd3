"""Warm instances of one plugin, each in its own Store with a memory cap and captured output.

An instance serves one call at a time; a trapped one is closed and never handed out again.
Instances are created lazily on a call thread, up to the plugin's ``limits.instances``.
"""

from __future__ import annotations

import threading

import wasmtime
from wasmtime.component import Component, Func, Linker

from kernel.sandbox.logs import LogBuffer

__all__ = ["InstancePool", "WarmInstance"]


class WarmInstance:
    """A live instance: its Store and the ``handle`` and ``describe`` exports."""

    def __init__(self, store: wasmtime.Store, handle: Func, describe: Func | None) -> None:
        self.store = store
        self.handle = handle
        self.describe = describe

    def close(self) -> None:
        """Release the Store (and the instance's memory)."""
        self.store.close()


class InstancePool:
    """Idle instances of one component; thread-safe."""

    def __init__(
        self,
        engine: wasmtime.Engine,
        component: Component,
        linker: Linker,
        *,
        memory_bytes: int,
        logs: LogBuffer,
    ) -> None:
        self._engine = engine
        self._component = component
        self._linker = linker
        self._memory_bytes = memory_bytes
        self._logs = logs
        self._idle: list[WarmInstance] = []
        self._lock = threading.Lock()
        self._closed = False

    def _create(self) -> WarmInstance:
        store = wasmtime.Store(self._engine)
        wasi = wasmtime.WasiConfig()  # empty: no env, args, preopened dirs or sockets
        wasi.stdout_custom = self._logs.capture("stdout")
        wasi.stderr_custom = self._logs.capture("stderr")
        store.set_wasi(wasi)
        store.set_limits(memory_size=self._memory_bytes, instances=64, tables=64, memories=16)
        store.set_epoch_deadline(1_000_000)  # generous for start-up; each call sets its own
        try:
            instance = self._linker.instantiate(store, self._component)
            handle = instance.get_func(store, "handle")
            if handle is None:
                raise wasmtime.WasmtimeError("the component exports no 'handle' function")
        except BaseException:
            store.close()
            raise
        return WarmInstance(store, handle, instance.get_func(store, "describe"))

    def take(self) -> WarmInstance:
        """An idle instance, or a new one (blocking: call on a call thread)."""
        with self._lock:
            if self._closed:
                raise wasmtime.WasmtimeError("the plugin is unloaded")
            if self._idle:
                return self._idle.pop()
        return self._create()

    def give(self, instance: WarmInstance) -> None:
        """Return a healthy instance for reuse."""
        with self._lock:
            if not self._closed:
                self._idle.append(instance)
                return
        instance.close()

    def warm(self, count: int) -> None:
        """Pre-create up to ``count`` idle instances (blocking)."""
        for _ in range(count):
            self.give(self._create())

    def close(self) -> None:
        """Close idle instances; instances in use are closed when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for instance in idle:
            instance.close()
