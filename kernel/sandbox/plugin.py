"""One loaded plugin: calls run on its own threads under a deadline and a memory cap.

A call checks out a warm instance, sets its epoch deadline, calls ``handle`` and returns the
instance, or discards it after a trap. The deadline starts when the call gets one of the
plugin's threads (:mod:`slots` bounds the wait for one) and covers the rest: instantiation, the
guest's own code, its sleeps and its host calls.

A chat filter is first tried on the event loop's own thread, when a warm instance is idle: a
hand-over to a call thread and back costs more than a typical filter's guest code (two thread
wake-ups and two takes of the GIL from the busy loop). There the guest may run for at most
:data:`LOOP_TICKS` epoch ticks (15-20 ms) and may not wait: a host call that would (KV, HTTP,
LLM, a sleep) ends it with :class:`~kernel.sandbox.deadline.WouldWait`, its instance is
discarded and the call runs again, from the start, on a call thread; its ``log`` lines and
additions are kept only from the run that finishes. An instance whose guest was ever given a
timer never runs there (it may wait on that timer inside wasmtime, out of the ticks' reach).
After :data:`MAX_LOOP_MISSES` runs that would wait or took longer than :data:`SLOW_LOOP_RUN`,
a plugin's filter always runs on its threads. The ``kv-add``
additions of a call are made after it returned ok, on the event loop (none if it failed).
Failures are :class:`CallFailed` with a reason the gateway can act on (a trap or a deadline
counts towards auto-disable).
"""

from __future__ import annotations

import time

import wasmtime
from wasmtime.component import Component, Variant

from kernel.sandbox.deadline import WOULD_WAIT, CurrentCall, Deadline
from kernel.sandbox.effects import DEFER_ENV, EffectsRejected, advertised, split_answer
from kernel.sandbox.engine import EPOCH_TICK_SECONDS, SandboxEngine
from kernel.sandbox.failures import CallFailed, FailureReason, failure_of_trap
from kernel.sandbox.imports import HostContext, build_linker
from kernel.sandbox.logs import LogBuffer
from kernel.sandbox.manifest import Manifest
from kernel.sandbox.metrics import CallMetrics
from kernel.sandbox.pool import InstancePool, WarmInstance
from kernel.sandbox.slots import FILTER_KINDS, PluginSlots

__all__ = [
    "LOOP_TICKS",
    "MAX_LOOP_MISSES",
    "SLOW_LOOP_RUN",
    "CallFailed",
    "FailureReason",
    "SandboxedPlugin",
]

LOOP_TICKS = 4
"""Epoch ticks a chat filter may run on the event loop's thread: 15-20 ms."""
SLOW_LOOP_RUN = EPOCH_TICK_SECONDS
"""A run on the loop that took more of its CPU, finished or not, is a miss: the loop is for
quick ones."""
MAX_LOOP_MISSES = 8
"""Misses (a run on the loop that would wait, or took longer than :data:`SLOW_LOOP_RUN`) after
which a plugin's filter only runs on the plugin's threads."""


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
        self._loop_misses = 0
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
            done = self._on_loop(kind, payload) if kind in FILTER_KINDS else None
            if done is None:
                done = await self._slots.run(kind, deadline, self._invoke, kind, payload, deadline)
            answer, adds = done
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

    def _on_loop(self, kind: str, payload: str) -> tuple[object, dict[str, int]] | None:
        """The call run on this thread (the event loop's) as the module says, or None to run
        it on a call thread."""
        if self._loop_misses >= MAX_LOOP_MISSES:
            return None
        try:
            instance = self._pool.take_idle()
        except wasmtime.WasmtimeError:  # unloaded: the call thread path says so
            return None
        if instance is None:
            return None
        deadline = self._deadline().start()
        ticks = min(LOOP_TICKS, self._engine.ticks(self._limits.timeout_ms / 1000))
        # The loop thread's CPU time: what the guest and its host calls took, without the
        # waits for the GIL after the guest let it go (another thread's doing, not the guest's)
        began = time.thread_time()
        with self._engine.running():
            instance.store.set_epoch_deadline(ticks)
            try:
                with self._calls.running(instance.call(deadline, on_loop=True)) as call:
                    answer = instance.call_handle(kind, payload)
            except wasmtime.WasmtimeError as exc:  # it would wait, ran too long or trapped
                instance.close()
                self._count_miss(began, would_wait=WOULD_WAIT in str(exc))
                return None
        self._count_miss(began)
        self._pool.give(instance)
        for level, message in call.lines:
            self.logs.log(level, message)
        return self._deferred(answer, call), call.adds

    def _count_miss(self, began: float, *, would_wait: bool = False) -> None:
        """Count a run on the loop as a miss when it would wait or took more than
        :data:`SLOW_LOOP_RUN` of the loop thread's CPU since ``began``, finished or not (a
        quick cut is the ticker's: it woke late and caught up several ticks at once)."""
        if would_wait or time.thread_time() - began > SLOW_LOOP_RUN:
            self._loop_misses += 1

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
