"""Each plugin's own call threads, and how the event loop awaits them within the deadline.

A plugin runs its calls on ``limits.instances`` threads of its own, plus as many again for its
chat filter (when it declares one), so a plugin whose calls hang can take neither another
plugin's threads nor the chat path's. A call waits for one of its plugin's threads at most
``limits.timeout_ms`` (then it fails ``busy`` without having run, which is no trap); once it
runs, the guest gets the whole ``timeout_ms`` and is ended by that deadline inside the sandbox,
and the event loop stops waiting at the deadline plus a small grace whatever happens. A caller
therefore has its answer within twice ``timeout_ms`` (plus grace) at worst.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from kernel.sandbox.deadline import Deadline
from kernel.sandbox.failures import CallFailed
from kernel.sandbox.lanes import CallLane

__all__ = ["FILTER_KINDS", "GRACE_SECONDS", "PluginSlots"]

T = TypeVar("T")
FILTER_KINDS = frozenset({"filter-request", "filter-response"})
GRACE_SECONDS = 0.25
"""How long past the deadline the event loop waits for a running call's own trap."""


def _copy(waiter: asyncio.Future[Any], job: Future[Any]) -> None:
    if waiter.done():
        return
    if job.cancelled():
        waiter.cancel()
        return
    exc = job.exception()
    if exc is None:
        waiter.set_result(job.result())
    else:
        waiter.set_exception(exc)


def _settle(loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any], job: Future[Any]) -> None:
    try:
        loop.call_soon_threadsafe(_copy, waiter, job)
    except RuntimeError:  # the loop is closed: nobody waits for this call any more
        return


class PluginSlots:
    """The call threads of plugin ``name``: ``size`` for calls, ``size`` more for filters."""

    def __init__(self, name: str, size: int, *, filters: bool) -> None:
        self._name = name
        self._calls = CallLane(f"wasm-{name}", size)
        self._filters = CallLane(f"wasm-{name}-filter", size) if filters else self._calls
        self._waiting: set[asyncio.Future[Any]] = set()

    async def run(self, kind: str, deadline: Deadline, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the lane for ``kind``; ``fn`` starts ``deadline`` when it runs."""
        lane = self._filters if kind in FILTER_KINDS else self._calls
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        try:
            job = lane.submit(fn, *args)
        except RuntimeError:
            raise CallFailed(self._name, "error", "the plugin is unloaded") from None
        job.add_done_callback(functools.partial(_settle, loop, waiter))
        self._waiting.add(waiter)
        # One timer instead of wait_for(shield(...)): the same two waits, without the task
        # and futures wait_for makes on every call.
        timer = loop.call_later(
            deadline.seconds + GRACE_SECONDS, self._queued_too_long, waiter, job, deadline, lane
        )
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiting.discard(waiter)
            waiter.cancel()  # when the caller went away: the late answer is dropped unread

    def _queued_too_long(
        self, waiter: asyncio.Future[Any], job: Future[Any], deadline: Deadline, lane: CallLane
    ) -> None:
        """``timeout_ms`` (+ grace) after the call was queued: fail ``busy`` if it never ran,
        else wait for it until its own deadline (+ grace)."""
        if waiter.done():
            return
        if job.cancel():
            waiter.set_exception(
                CallFailed(self._name, "busy", f"all {lane.size} of its call threads stayed busy")
            )
            return
        left = max(0.0, min(deadline.remaining(), deadline.seconds)) + GRACE_SECONDS
        loop = asyncio.get_running_loop()
        timer = loop.call_later(left, self._overran, waiter, deadline)
        waiter.add_done_callback(lambda _: timer.cancel())

    def _overran(self, waiter: asyncio.Future[Any], deadline: Deadline) -> None:
        if waiter.done():
            return
        deadline.abandoned = True
        waiter.set_exception(CallFailed(self._name, "timeout", "the call overran its deadline"))

    def close(self) -> None:
        """Fail every waiting call at once and stop the threads (on the event loop's thread;
        a thread still inside a guest ends by its deadline, and cannot hold the process)."""
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(CallFailed(self._name, "error", "the plugin was unloaded"))
        self._calls.shutdown(wait=False)
        self._filters.shutdown(wait=False)
