"""One loaded plugin: calls run on the engine's threads under a deadline and a memory cap.

The event loop only awaits; a call checks out a warm instance, sets its epoch deadline, calls
``handle`` and returns the instance, or discards it after a trap. Failures are
:class:`CallFailed` with a reason the gateway can act on (a trap counts towards auto-disable).
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import wasmtime
from wasmtime.component import Component, Variant

from kernel.sandbox.engine import SandboxEngine
from kernel.sandbox.imports import HostContext, build_linker
from kernel.sandbox.logs import LogBuffer
from kernel.sandbox.manifest import Manifest
from kernel.sandbox.metrics import CallMetrics
from kernel.sandbox.pool import InstancePool, WarmInstance

__all__ = ["CallFailed", "FailureReason", "SandboxedPlugin"]

FailureReason = Literal["error", "trap", "timeout", "too_large"]


class CallFailed(Exception):
    """A call did not produce a result; ``reason`` says why, ``message`` is safe to show."""

    def __init__(self, plugin: str, reason: FailureReason, message: str) -> None:
        super().__init__(f"plugin '{plugin}' {reason}: {message}")
        self.plugin = plugin
        self.reason = reason
        self.message = message

    @property
    def trapped(self) -> bool:
        """True when the instance died (trap or deadline)."""
        return self.reason in ("trap", "timeout")


def _trap_reason(exc: Exception) -> FailureReason:
    text = str(exc).lower()
    return "timeout" if "interrupt" in text or "epoch" in text else "trap"


def _trap_message(exc: Exception) -> str:
    """The cause wasmtime reports (not the backtrace, which names guest internals)."""
    text = str(exc)
    cause = text.split("Caused by:", 1)[-1] if "Caused by:" in text else text
    lines = [line.strip() for line in cause.splitlines() if line.strip()]
    return (lines[-1] if "Caused by:" in text else lines[0] if lines else "trap")[:500]


class SandboxedPlugin:
    """A compiled component with its linker, warm pool, logs and metrics."""

    def __init__(
        self, engine: SandboxEngine, manifest: Manifest, component: Component, context: HostContext
    ) -> None:
        self.manifest = manifest
        self.name = manifest.name
        self.logs: LogBuffer = context.logs
        self.metrics = CallMetrics()
        self._engine = engine
        self._limits = manifest.limits
        self._slots = asyncio.Semaphore(manifest.limits.instances)
        self._pool = InstancePool(
            engine.engine,
            component,
            build_linker(engine.engine, context),
            memory_bytes=manifest.limits.memory_mb * 1024 * 1024,
            logs=context.logs,
        )

    async def warm(self) -> None:
        """Instantiate one instance ahead of the first call (raises if instantiation fails)."""
        await asyncio.get_running_loop().run_in_executor(self._engine.executor, self._pool.warm, 1)

    async def describe(self) -> str:
        """The component's ``describe()`` (JSON text); CallFailed when it has none or traps."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._engine.executor, self._describe)

    def _describe(self) -> str:
        instance = self._pool.take()
        try:
            if instance.describe is None:
                raise CallFailed(self.name, "error", "the component exports no 'describe'")
            instance.store.set_epoch_deadline(self._engine.ticks(self._limits.timeout_ms / 1000))
            with self._engine.running():
                answer = instance.describe(instance.store)
        except wasmtime.WasmtimeError as exc:
            instance.close()
            raise CallFailed(self.name, _trap_reason(exc), _trap_message(exc)) from None
        self._pool.give(instance)
        if not isinstance(answer, str):
            raise CallFailed(self.name, "error", "describe returned a malformed value")
        return answer

    async def call(self, kind: str, payload: str) -> str:
        """``handle(kind, payload)``'s ok value; CallFailed otherwise."""
        if len(payload) > self._limits.max_request_bytes:
            raise CallFailed(self.name, "too_large", "request exceeds limits.max_request_bytes")
        started = time.perf_counter()
        async with self._slots:
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(self._engine.executor, self._run, kind, payload)
            except CallFailed as exc:
                self.metrics.record(time.perf_counter() - started, trap=exc.trapped, error=True)
                raise
        self.metrics.record(time.perf_counter() - started)
        return result

    def _run(self, kind: str, payload: str) -> str:
        try:
            instance = self._pool.take()
        except wasmtime.WasmtimeError as exc:
            raise CallFailed(self.name, "trap", f"cannot instantiate: {exc}") from None
        try:
            answer = self._call(instance, kind, payload)
        except wasmtime.WasmtimeError as exc:
            instance.close()
            raise CallFailed(self.name, _trap_reason(exc), _trap_message(exc)) from None
        self._pool.give(instance)
        if not isinstance(answer, Variant) or not isinstance(answer.payload, str):
            raise CallFailed(self.name, "error", "handle returned a malformed value")
        if answer.tag == "err":
            raise CallFailed(self.name, "error", answer.payload[:1000])
        if len(answer.payload) > self._limits.max_response_bytes:
            raise CallFailed(self.name, "too_large", "response exceeds limits.max_response_bytes")
        return answer.payload

    def _call(self, instance: WarmInstance, kind: str, payload: str) -> object:
        instance.store.set_epoch_deadline(self._engine.ticks(self._limits.timeout_ms / 1000))
        with self._engine.running():
            return instance.handle(instance.store, kind, payload)

    def close(self) -> None:
        """Release every idle instance; later calls fail."""
        self._pool.close()
