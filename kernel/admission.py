"""One KV round trip to admit a model call: block check, throttle and budget reservation together.

A route that forwards a model call declares ``enclava_deferred_admission=True`` (handler opt).
For such a request the gate gives the :class:`~kernel.types.RequestContext` an
:class:`Admission`; request checks that would each make a KV call (the threat gate's block
check, the rate limiter's throttle) :meth:`Admission.defer` their step instead, with a handler
that interprets the result (raising to refuse). The exchange guards then run the batch once,
adding their own steps (the budget reservation) through :meth:`Admission.run`: one
:meth:`~kernel.storage.kv.KV.admit` call, stopping at the first refusal in check order (a
blocked client takes no token; a throttled one reserves nothing). The deferred handlers run
in order before the caller sees its own results, so a refusal answers exactly as if each check
had run on its own.

Every request so admitted runs its batch exactly once: if anything fails before the exchange is
admitted (a bad body, a missing credential), the pending batch runs first
(:func:`run_pending`), so a blocked or throttled client still gets that answer and an invalid
request still takes its throttle token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType

from kernel.storage.kv import KV, AdmitStep, StepResult

__all__ = ["DEFERRED_OPT", "Admission", "AdmittedFirst", "StepHandler", "run_pending"]

DEFERRED_OPT = "enclava_deferred_admission"
"""Handler opt: the route admits a model call, so its checks' KV steps are deferred to it."""

StepHandler = Callable[[StepResult], None]
"""Interprets one deferred step's result; raises an EnclavaError to refuse the request."""


class Admission:
    """The KV steps one request's checks deferred, waiting for the exchange guards."""

    __slots__ = ("_handlers", "_kv", "_steps", "pending")

    def __init__(self, kv: KV) -> None:
        self._kv = kv
        self._steps: list[AdmitStep] = []
        self._handlers: list[StepHandler] = []
        self.pending = True
        """True until :meth:`run` was called."""

    def defer(self, step: AdmitStep, handler: StepHandler) -> None:
        """Add ``step``, to be sent with the others; ``handler`` gets its result."""
        if not self.pending:
            raise RuntimeError("the request's admission already ran")
        self._steps.append(step)
        self._handlers.append(handler)

    async def run(self, steps: Sequence[AdmitStep] = ()) -> tuple[StepResult, ...]:
        """Send the deferred steps and then ``steps`` in one KV call (none when there is
        nothing to send); call the deferred handlers in order (one of them raises when its step
        refused) and return the results of ``steps`` that ran (up to the first refusing one).
        Runs once: later calls raise RuntimeError."""
        if not self.pending:
            raise RuntimeError("the request's admission already ran")
        self.pending = False
        deferred = len(self._steps)
        if not deferred and not steps:
            return ()
        # The handlers usually hold the request's context, which holds this admission: dropped
        # here, that cycle is freed by reference counting, not left to the garbage collector.
        handlers, self._handlers = self._handlers, []
        admitted = await self._kv.admit([*self._steps, *steps] if steps else self._steps)
        results = admitted.results
        for handler, result in zip(handlers, results, strict=False):
            handler(result)
        if admitted.refused is not None and admitted.refused < deferred:
            raise RuntimeError("a deferred admission step refused but its handler let it pass")
        return results[deferred:]


async def run_pending(admission: Admission | None) -> None:
    """Run ``admission`` if it has not run yet (it may raise its refusal)."""
    if admission is not None and admission.pending:
        await admission.run()


class AdmittedFirst:
    """Around a deferring handler: whatever it raises before its exchange ran the admission,
    and however it returns, the pending batch runs first (its refusal wins). A class rather than
    an ``asynccontextmanager``: no generator per request on the hot path."""

    __slots__ = ("_admission",)

    def __init__(self, admission: Admission | None) -> None:
        self._admission = admission

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, Exception):  # not on cancellation
            await run_pending(self._admission)
