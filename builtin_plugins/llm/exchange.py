"""The life of one model call: guards admit it before routing and learn, once, how it ended.

Guards (budgets, usage records) come from ``enclava_exchange_guards``. ``admit`` raises to refuse;
guards admitted before a refusal still get ``finish``. The request's deferred KV steps (block
check, throttle: :mod:`kernel.admission`) go out with the first guard's own steps, or after the
last guard when none sent them: one KV round trip either way. ``finish`` is shielded from the client
going away, so a reservation is always settled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import msgspec

from kernel.admission import run_pending
from kernel.errors import EnclavaError, error_of_answer
from kernel.exchange import Exchange, ExchangeGuard, TokenUsage

__all__ = ["Admission", "admit", "error_code_of", "usage_of"]

log = logging.getLogger(__name__)


class _Usage(msgspec.Struct):
    usage: TokenUsage | None = None


_USAGE = msgspec.json.Decoder(_Usage)


def usage_of(body: bytes) -> TokenUsage | None:
    """The ``usage`` object of a JSON answer (or SSE event payload), if it has a valid one."""
    try:
        return _USAGE.decode(body).usage
    except msgspec.DecodeError:
        return None


def error_code_of(status: int, body: bytes) -> str:
    """The OpenAI ``error.code`` (else ``type``) of an error answer, else ``http_<status>``."""
    return error_of_answer(status, body)[0]


class Admission:
    """The guards that admitted one exchange; ``finish`` tells each of them exactly once."""

    def __init__(self, exchange: Exchange, guards: Sequence[ExchangeGuard]) -> None:
        self.exchange = exchange
        self._guards = guards
        self._finished = False

    def failed(self, error: EnclavaError) -> None:
        """Record that the exchange ended with ``error`` (first error wins)."""
        if self.exchange.error_code is None:
            self.exchange.status = error.status_code
            self.exchange.error_code = error.code or error.error_type

    async def finish(self, *, shield: bool = True) -> None:
        """Close the exchange and tell every admitting guard, even if the caller is cancelled.
        ``shield=False`` for a caller that is a task of its own nothing cancels (one task per
        request less)."""
        if self._finished:
            return
        self._finished = True
        if self.exchange.ended is None:
            self.exchange.ended = time.monotonic()
        if not self._guards:
            return
        if shield:
            await asyncio.shield(_finish_all(self._guards, self.exchange))
        else:
            await _finish_all(self._guards, self.exchange)


async def _finish_all(guards: Sequence[ExchangeGuard], exchange: Exchange) -> None:
    for guard in guards:
        try:
            await guard.finish(exchange)
        except Exception:  # a guard must not raise; one that does must not skip the others
            log.exception("exchange guard %s failed to finish %s", guard.name, exchange.request_id)


async def admit(guards: Sequence[ExchangeGuard], exchange: Exchange) -> Admission:
    """Run every guard's ``admit`` in order; on a refusal finish those admitted, then raise."""
    exchange.started = time.monotonic()
    exchange.started_at = time.time()
    admitted: list[ExchangeGuard] = []
    try:
        for guard in guards:
            await guard.admit(exchange)
            admitted.append(guard)
        await run_pending(exchange.admission)  # the checks' steps, if no guard sent them
    except BaseException as exc:
        admission = Admission(exchange, admitted)
        if isinstance(exc, EnclavaError):
            admission.failed(exc)
        else:
            exchange.status, exchange.error_code = 500, "internal_error"
        await admission.finish()
        raise
    return Admission(exchange, admitted)
