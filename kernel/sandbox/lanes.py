"""Call threads that cannot hold the process: a bounded executor of daemon threads.

``concurrent.futures.ThreadPoolExecutor`` joins its workers at interpreter exit and on
``shutdown(wait=True)``, so one thread stuck in a guest kept the whole server from stopping.
A :class:`CallLane` starts up to ``size`` daemon threads on demand, queues what exceeds them,
and its ``shutdown`` cancels what is queued without waiting for what runs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

__all__ = ["CallLane"]

T = TypeVar("T")
_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class CallLane(Executor):
    """Runs submitted functions on at most ``size`` daemon threads named ``<name>-<n>``."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._queued = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(*args, **kwargs)``; a thread is started if none is free and fewer than
        ``size`` exist. RuntimeError after :meth:`shutdown`."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} is shut down")
            self._queued += 1
            self._jobs.put((future, fn, args, kwargs))
            if self._queued > self._idle and self._threads < self.size:
                self._threads += 1
                name = f"{self.name}-{self._threads}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
                if job is None:
                    self._threads -= 1
                    return
                self._queued -= 1
            future, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # handed to whoever awaits the future
                    future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = True) -> None:
        """Cancel queued calls and let idle threads exit; never waits for a running call
        (``wait`` is accepted for the Executor interface and ignored)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = self._threads
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in range(threads):
            self._jobs.put(None)
