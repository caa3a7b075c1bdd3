"""What ``enclava plugin build|test`` is doing, on stderr: on a terminal a spinner with the
phase's elapsed time, left as ``✓ phase 11.2s`` when it ends; elsewhere (CI logs, pipes) one
plain line as each phase starts, stamped with the time since the command began (and one more
when a slow phase ends)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Progress"]

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_TICK = 0.1
_SLOW = 1.0
"""Off a terminal, a phase this long also gets a line when it ends."""


class Progress:
    """Reports phases to ``stream`` (stderr); ``tty`` defaults to whether it is a terminal."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._tty = self._stream.isatty() if tty is None else tty
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        with self._lock:
            self._stream.write(text)
            self._stream.flush()

    def note(self, message: str) -> None:
        """One line that is not a phase (a result, a cache hit)."""
        if self._tty:
            self._write(f"  {message}\n")
        else:
            self._write(f"enclava [{self._clock() - self._started:6.1f}s] {message}\n")

    @contextmanager
    def phase(self, name: str, *, spinner: bool = True) -> Iterator[None]:
        """Show ``name`` while the block runs; ``spinner=False`` when the block prints itself."""
        if not self._tty:
            self.note(name)
            started = self._clock()
            yield
            if self._clock() - started >= _SLOW:
                self.note(f"{name}: done in {self._clock() - started:.1f}s")
            return
        if not spinner:
            self._write(f"▸ {name}\n")
            yield
            return
        started, mark = self._clock(), "✗"
        try:
            with self._spinning(name, started):
                yield
            mark = "✓"
        finally:
            self._write(f"\r\x1b[K{mark} {name} {self._clock() - started:.1f}s\n")

    @contextmanager
    def _spinning(self, name: str, started: float) -> Iterator[None]:
        stop = threading.Event()

        def spin() -> None:
            frame = 0
            while not stop.wait(_TICK if frame else 0):
                elapsed = self._clock() - started
                self._write(f"\r\x1b[K{_FRAMES[frame % len(_FRAMES)]} {name} {elapsed:.1f}s")
                frame += 1

        thread = threading.Thread(target=spin, name="enclava-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
