"""One loaded plugin: calls run on its own threads under a deadline and a memory cap.

The event loop only awaits; a call checks out a warm instance, sets its epoch deadline, calls
``handle`` and returns the instance, or discards it after a trap. The deadline starts when the
call gets one of the plugin's threads (:mod:`slots` bounds the wait for one) and covers the
rest: instantiation, the guest's own code, its sleeps and its host calls. The ``kv-add``
additions of a call are made after it returned ok, on the event loop (none if it failed).
Failures are :class:`CallFailed` with a reason the gateway can act on (a trap or a deadline
counts towards auto-disable).
"""

from __future__ import annotations

import time

import wasmtime
from wasmtime.component import Component, Variant

from kernel.sandbox.deadline import CurrentCall, Deadline
from kernel.sandbox.effects import DEFER_ENV, EffectsRejected, advertised, split_answer
from kernel.sandbox.engine import SandboxEngine
from kernel.sandbox.failures import CallFailed, FailureReason, failure_of_trap
from kernel.sandbox.imports import HostContext, build_linker
from kernel.sandbox.logs import LogBuffer
from kernel.sandbox.manifest import Manifest
from kernel.sandbox.metrics import CallMetrics
from kernel.sandbox.pool import InstancePool, WarmInstance
from kernel.sandbox.slots import FILTER_KINDS, PluginSlots

__all__ = ["CallFailed", "FailureReason", "SandboxedPlugin"]


class SandboxedPlugin:
    """A compiled component with its linker, warm pool, call threads, logs and metrics."""

    def __init__(
        self, engine: SandboxEngine, manifest: Manifest, component: Component, context: HostContext
    ) -> None:
        self.manifest = manifest
        self.name = manifest.name
        self.logs: LogBuffer = context.logs
        self.metrics = CallMetrics()
        self._engine = engine
        self._limits = manifest.limits
        self._calls = context.calls
        self._context = context
        self._slots = PluginSlots(
            manifest.name, manifest.limits.instances, filters=manifest.filter is not None
        )
        imports = component.type.imports(engine.engine)
        self._pool = InstancePool(
            engine,
            component,
            build_linker(engine.engine, context, imports),
            calls=context.calls,
            memory_bytes=manifest.limits.memory_mb * 1024 * 1024,
            logs=context.logs,
            config=context.config,
            environment={DEFER_ENV: advertised(manifest.permissions.kv)},
        )

    def _deadline(self) -> Deadline:
        return Deadline(self._limits.timeout_ms / 1000)

    async def warm(self) -> None:
        """Instantiate one instance ahead of the first call (raises if instantiation fails)."""
        deadline = self._deadline()
        await self._engine.run(self._warm, deadline)

    def _warm(self, deadline: Deadline) -> None:
        deadline.start()
        with self._engine.running():
            self._pool.give(self._pool.take(deadline))

    async def describe(self) -> str:
        """The component's ``describe()`` (JSON text); CallFailed when it has none or traps."""
        answer, _ = await self._engine.run(self._invoke, "describe", "", self._deadline())
        if not isinstance(answer, str):
            raise CallFailed(self.name, "error", "describe returned a malformed value")
        return answer

    async def call(self, kind: str, payload: str) -> str:
        """``handle(kind, payload)``'s ok value; CallFailed otherwise.

        ``limits.max_request_bytes`` bounds what callers send (endpoints, execute, schedules);
        a chat filter gets every chat body the gateway accepted (``server.max_body_bytes``).
        """
        if kind not in FILTER_KINDS and len(payload) > self._limits.max_request_bytes:
            raise CallFailed(self.name, "too_large", "request exceeds limits.max_request_bytes")
        started = time.perf_counter()
        deadline = self._deadline()
        try:
            answer, adds = await self._slots.run(
                kind, deadline, self._invoke, kind, payload, deadline
            )
            result = self._result(answer)
            if adds:
                await self._add(adds)
        except CallFailed as exc:
            self.metrics.record(time.perf_counter() - started, trap=exc.trapped, error=True)
            raise
        self.metrics.record(time.perf_counter() - started)
        return result

    async def _add(self, adds: dict[str, int]) -> None:
        try:
            await self._context.apply_adds(adds)
        except Exception as exc:  # the KV store is down or contended: the call did not finish
            raise CallFailed(self.name, "error", f"kv-add failed: {type(exc).__name__}") from None

    def _result(self, answer: object) -> str:
        if not isinstance(answer, Variant) or not isinstance(answer.payload, str):
            raise CallFailed(self.name, "error", "handle returned a malformed value")
        if answer.tag == "err":
            raise CallFailed(self.name, "error", answer.payload[:1000])
        if len(answer.payload) > self._limits.max_response_bytes:
            raise CallFailed(self.name, "too_large", "response exceeds limits.max_response_bytes")
        return answer.payload

    def _invoke(self, kind: str, payload: str, deadline: Deadline) -> tuple[object, dict[str, int]]:
        """On a call thread: ``handle`` (or ``describe`` when ``kind`` is "describe"), and the
        call's ``kv-add`` additions."""
        deadline.start()
        with self._engine.running():
            try:
                instance = self._pool.take(deadline)
            except wasmtime.WasmtimeError as exc:
                raise failure_of_trap(self.name, exc, "cannot instantiate: ") from None
            if kind == "describe" and instance.describe is None:
                self._pool.give(instance)
                raise CallFailed(self.name, "error", "the component exports no 'describe'")
            try:
                answer, call = self._guest(instance, kind, payload, deadline)
            except wasmtime.WasmtimeError as exc:
                instance.close()
                raise failure_of_trap(self.name, exc) from None
        if deadline.abandoned:
            instance.close()  # the caller gave up on it: its state is no longer trusted
        else:
            self._pool.give(instance)
        return self._deferred(answer, call), call.adds

    def _deferred(self, answer: object, call: CurrentCall) -> object:
        """``answer`` without the effects it carried (:mod:`effects`): their log lines are
        written and their additions recorded on ``call``; CallFailed when they break a rule."""
        if not isinstance(answer, Variant) or not isinstance(answer.payload, str):
            return answer
        if answer.tag != "ok":
            return answer
        try:
            text, effects = split_answer(answer.payload)
        except EffectsRejected as exc:
            raise CallFailed(self.name, "error", str(exc)) from None
        if effects is None:
            return answer
        for level, message in effects.log:
            self.logs.log(level, message)
        if effects.kv_add and not self.manifest.permissions.kv:
            raise CallFailed(
                self.name, "error", "kv-add is not granted: add permissions.kv to plugin.toml"
            )
        for key, delta in effects.kv_add.items():
            try:
                self._context.add(call.adds, key, delta)
            except ValueError as exc:
                raise CallFailed(self.name, "error", f"kv-add refused: {exc}") from None
        return Variant("ok", text)

    def _guest(
        self, instance: WarmInstance, kind: str, payload: str, deadline: Deadline
    ) -> tuple[object, CurrentCall]:
        instance.store.set_epoch_deadline(self._engine.ticks(max(0.0, deadline.remaining())))
        with self._calls.running(instance.call(deadline)) as call:
            if kind == "describe" and instance.describe is not None:
                answer = instance.describe(instance.store)
            else:
                answer = instance.call_handle(kind, payload)
        if call.cut_short and deadline.remaining() <= 0:
            raise wasmtime.WasmtimeError("deadline exceeded: the guest slept past it")
        return answer, call

    def close(self) -> None:
        """Fail the calls in flight, release every idle instance; later calls fail."""
        self._slots.close()
        self._pool.close()
