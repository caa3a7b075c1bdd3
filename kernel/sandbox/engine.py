"""The one wasmtime Engine: epoch interruption, its ticker, the call threads and the native cache.

Compiling a Python guest takes seconds, so components are compiled once, off the request path,
and their native artefact cached under (sha256, wasmtime version, engine settings). Only
artefacts this host wrote are ever deserialized: nothing from outside is accepted as ``.cwasm``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import wasmtime
from wasmtime.component import Component

__all__ = ["EPOCH_TICK_SECONDS", "SandboxEngine"]

EPOCH_TICK_SECONDS = 0.005
_ENGINE_SETTINGS = "epoch_interruption=1;cranelift_opt_level=speed;component_model=1"


class SandboxEngine:
    """Owns the Engine, the epoch ticker thread and the thread pool guest calls run in."""

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
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wasm")
        self._stop = threading.Event()
        self._calls = 0
        self._busy = threading.Condition()
        self._ticker = threading.Thread(target=self._tick, name="wasm-epoch", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        # Ticks only while a guest runs: an idle ticker would wake 200 times a second and take
        # the GIL from the event loop each time. Deadlines count from the epoch at call start.
        while not self._stop.is_set():
            with self._busy:
                while self._calls == 0 and not self._stop.is_set():
                    self._busy.wait()
            if self._stop.wait(EPOCH_TICK_SECONDS):
                return
            self.engine.increment_epoch()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around every guest invocation that has an epoch deadline: the ticker runs meanwhile."""
        with self._busy:
            self._calls += 1
            self._busy.notify()
        try:
            yield
        finally:
            with self._busy:
                self._calls -= 1

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
        """Stop the ticker and the call threads (running calls finish first)."""
        self._stop.set()
        with self._busy:
            self._busy.notify()
        self._ticker.join(timeout=1)
        self.executor.shutdown(wait=True, cancel_futures=True)
