"""Admissions coalesced: one Redis script call carries every admission (and batch of
settlements, :meth:`~kernel.storage.kv.KV.reserve_many`) queued while one is in flight
(:data:`~kernel.storage.kv_lua.BATCH_LUA`).

The first caller sends its own group at once (no added latency when idle); callers arriving while
a call is in flight queue, and the queue goes out as one script call when it returns (up to
``max_groups`` groups per call). Each group runs exactly as :data:`~kernel.storage.kv_lua.ADMIT_LUA`
would run it alone, in queue order, inside one atomic script, and each caller waits for its own
answer, so a request is admitted (or refused) only once Redis said so: still one round trip per
request, shared. A failed call fails every group in it (callers fail closed); a caller cancelled
before its group was sent drops the group (nothing is reserved for it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["ScriptBatch", "SendBatch"]

SendBatch = Callable[[list[str], list[int | str]], Awaitable[Sequence[Any]]]
"""Runs :data:`~kernel.storage.kv_lua.BATCH_LUA` on KEYS and ARGV; one answer per group."""

_Queued = tuple[list[str], list[int | str], "asyncio.Future[Any]"]


class ScriptBatch:
    """Coalesces concurrent admission groups into one script call."""

    def __init__(self, send: SendBatch, *, max_groups: int = 128) -> None:
        self._send = send
        self._max_groups = max_groups
        self._queue: list[_Queued] = []
        self._busy = False
        self._drainer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, keys: list[str], args: list[int | str]) -> Any:
        """The answer of one group (KEYS and ARGV as :func:`~kernel.storage.kv_lua.encode_group`
        gives them), sent alone when nothing is in flight, else with the others queued."""
        loop = asyncio.get_running_loop()
        if self._busy and self._loop is loop:
            future: asyncio.Future[Any] = loop.create_future()
            self._queue.append((keys, args, future))
            return await future
        # Idle, or busy on a loop that is gone (its call can never hand over): start afresh.
        self._busy, self._loop, self._queue = True, loop, []
        try:
            answers = await self._send(keys, args)
        finally:
            self._hand_over()
        return answers[0]

    def _hand_over(self) -> None:
        """After a call: send what queued meanwhile (in a task), or go idle."""
        if self._queue:
            self._drainer = asyncio.create_task(self._drain(), name="kv-admission-batch")
        else:
            self._busy = False

    async def _drain(self) -> None:
        chunk: list[_Queued] = []
        try:
            while self._queue:
                pending = [queued for queued in self._queue if not queued[2].done()]
                chunk, self._queue = pending[: self._max_groups], pending[self._max_groups :]
                if chunk:
                    await self._send_chunk(chunk)
            chunk = []
        finally:
            self._busy = False
            self._drainer = None
            stopped = RuntimeError("the admission batch stopped before it was sent")
            _fail(chunk + self._queue, stopped)
            self._queue = []

    async def _send_chunk(self, chunk: list[_Queued]) -> None:
        keys: list[str] = []
        args: list[int | str] = []
        for group_keys, group_args, _ in chunk:
            keys += group_keys
            args += group_args
        try:
            answers = await self._send(keys, args)
        except Exception as exc:  # every caller in the chunk sees it: they fail closed
            _fail(chunk, exc)
            return
        for (_, _, future), answer in zip(chunk, answers, strict=True):
            if not future.done():
                future.set_result(answer)

    async def close(self) -> None:
        """Wait for the queued groups to be sent (at shutdown)."""
        if self._drainer is not None:
            await asyncio.wait([self._drainer])


def _fail(chunk: list[_Queued], exc: BaseException) -> None:
    for _, _, future in chunk:
        if not future.done():
            future.set_exception(exc)
