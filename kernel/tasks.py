"""Runs plugins' periodic background tasks; one failing run never stops the schedule."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from kernel.types import BackgroundTask

__all__ = ["TaskSupervisor"]

log = logging.getLogger(__name__)


async def _loop(plugin: str, task: BackgroundTask) -> None:
    if not task.run_at_start:
        await asyncio.sleep(task.interval)
    while True:
        try:
            await task.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s/%s failed", plugin, task.name)
        await asyncio.sleep(task.interval)


class TaskSupervisor:
    """Keeps exactly the given set of (plugin, task) loops running."""

    def __init__(self) -> None:
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}

    @property
    def running(self) -> list[tuple[str, str]]:
        return sorted(self._running)

    async def sync(self, wanted: Iterable[tuple[str, BackgroundTask]]) -> None:
        """Start loops that are wanted and not running; cancel those no longer wanted."""
        wanted_by_key = {(plugin, task.name): (plugin, task) for plugin, task in wanted}
        for key in [k for k in self._running if k not in wanted_by_key]:
            await self._cancel(key)
        for key, (plugin, task) in wanted_by_key.items():
            if key not in self._running:
                self._running[key] = asyncio.create_task(
                    _loop(plugin, task), name=f"enclava:{plugin}:{task.name}"
                )

    async def _cancel(self, key: tuple[str, str]) -> None:
        task = self._running.pop(key)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def stop(self) -> None:
        for key in list(self._running):
            await self._cancel(key)
