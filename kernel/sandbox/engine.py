"""The one wasmtime Engine: epoch interruption, its ticker, the load threads and the native cache.

Compiling a Python guest takes seconds, so components are compiled once, off the request path,
and their native artefact cached under (sha256, wasmtime version, engine settings). Only
artefacts this host wrote are ever deserialized: nothing from outside is accepted as ``.cwasm``.
Guest calls do not run here: each plugin has its own call threads (:mod:`plugin`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import wasmtime
from wasmtime.component import Component

from kernel.sandbox.clocks import TimerFactory
from kernel.sandbox.lanes import CallLane

__all__ = ["EPOCH_TICK_SECONDS", "SandboxEngine"]

T = TypeVar("T")
EPOCH_TICK_SECONDS = 0.005
_ENGINE_SETTINGS = "epoch_interruption=1;cranelift_opt_level=speed;component_model=1"


class SandboxEngine:
    """Owns the Engine, the epoch ticker and the (daemon) threads that compile and load."""

    def __init__(self, cache_dir: Path, *, threads: int = 4) -> None:
        config = wasmtime.Config()
        config.epoch_interruption = True
        config.cranelift_opt_level = "speed"
        config.wasm_component_model = True
        self.engine = wasmtime.Engine(config)
        self.cache_dir = cache_dir
        self.fingerprint = hashlib.sha256(
            f"wasmtime={version('wasmtime')};{_ENGINE_SETTINGS}".encode()
        ).hexdigest()[:16]
        self.executor = CallLane("wasm-load", threads)
        self.timers = TimerFactory(self.engine)
        self._stop = threading.Event()
        self._calls = 0
        self._ticking = False
        self._busy = threading.Condition()

    def _tick(self) -> None:
        # Ticks only while a guest runs: an idle ticker would wake 200 times a second and take
        # the GIL from the event loop each time. Deadlines count from the epoch at call start;
        # ticks missed while the GIL was busy are caught up, so N ticks are N x 5 ms of wall time.
        # Started by the first guest; after close it ticks until the last guest has left (a
        # guest entering later starts it again), so every guest still ends by its deadline.
        while self._until_busy():
            started, done = time.monotonic(), 0
            while self._calls:
                time.sleep(EPOCH_TICK_SECONDS)
                due = int((time.monotonic() - started) / EPOCH_TICK_SECONDS)
                for _ in range(due - done):
                    self.engine.increment_epoch()
                done = due

    def _until_busy(self) -> bool:
        with self._busy:
            while self._calls == 0:
                if self._stop.is_set():
                    self._ticking = False
                    return False
                self._busy.wait()
        return True

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around every guest invocation that has an epoch deadline: the ticker runs meanwhile."""
        with self._busy:
            self._calls += 1
            if not self._ticking:
                self._ticking = True
                threading.Thread(target=self._tick, name="wasm-epoch", daemon=True).start()
            self._busy.notify()
        try:
            yield
        finally:
            with self._busy:
                self._calls -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a load thread: compiling, warming and describing components."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def ticks(self, seconds: float) -> int:
        """Epoch ticks that make up a deadline of ``seconds`` (at least one)."""
        return max(1, round(seconds / EPOCH_TICK_SECONDS))

    def compile(self, wasm: bytes, sha256: str) -> Component:
        """The component for ``wasm`` (whose hash the caller verified), from cache when present.

        Blocking: call it in a thread.
        """
        cached = self.cache_dir / f"{sha256}-{self.fingerprint}.cwasm"
        if cached.is_file():
            return Component.deserialize_file(self.engine, str(cached))
        component = Component(self.engine, wasm)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=self.cache_dir, suffix=".partial")
        with os.fdopen(fd, "wb") as out:
            out.write(component.serialize())
        os.replace(partial, cached)  # atomic: a reader never sees half an artefact
        return component

    def close(self) -> None:
        """Stop the load threads, and the ticker once no guest runs; never waits for either."""
        self._stop.set()
        with self._busy:
            self._busy.notify()
        self.executor.shutdown(wait=False)
