"""Relaying a provider's SSE stream untouched, with the two checks that must be per chunk.

Each chunk is yielded exactly as aiohttp read it. Per chunk the relay does only C-level byte
searches (:class:`FrameScanner`: an error frame? the ``[DONE]`` sentinel?) and moves one
deadline (:class:`IdleWatchdog`): an ``asyncio.timeout`` per read would cost ~10 µs a chunk,
the watchdog arms one timer per idle period instead.

Error frames are recognised at a line start, where JSON content cannot put them (it escapes
newlines and quotes): Privatemode's proxy ``event: error`` and RedPill's in-band
``data: {"error": ...}``.
"""

from __future__ import annotations

import asyncio

import aiohttp

__all__ = ["FrameScanner", "IdleTimeout", "IdleWatchdog"]

_TAIL = 32
_MARKERS: tuple[tuple[bytes, int], ...] = (
    (b"\nevent: error", 1),
    (b"\nevent:error", 1),
    (b'data: {"error"', 0),
    (b'data:{"error"', 0),
)


class IdleTimeout(TimeoutError):
    """The upstream sent nothing for longer than the idle-chunk timeout."""


class FrameScanner:
    """Watches a stream's bytes for an error frame and for the final ``[DONE]``."""

    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = b"\n"

    def error_at(self, chunk: bytes) -> int:
        """Where in ``chunk`` an error frame starts (0 if it began earlier), or -1."""
        window = self._tail + chunk
        self._tail = window[-_TAIL:]
        if b"error" not in window:
            return -1
        starts = [at + skip for marker, skip in _MARKERS if (at := window.find(marker)) >= 0]
        if not starts:
            return -1
        return max(0, min(starts) - (len(window) - len(chunk)))

    @property
    def done(self) -> bool:
        """Whether the bytes so far end with the ``[DONE]`` sentinel."""
        return self._tail.rstrip().endswith(b"[DONE]")


class IdleWatchdog:
    """Reads a response body, failing a read that waits longer than ``seconds``."""

    __slots__ = ("_content", "_deadline", "_handle", "_loop", "_seconds")

    def __init__(self, content: aiohttp.StreamReader, seconds: float) -> None:
        self._content = content
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._deadline: float | None = None
        self._handle: asyncio.TimerHandle | None = None

    async def read(self) -> bytes:
        """The next bytes (b"" at the end); raises :class:`IdleTimeout` after a long silence."""
        self._deadline = self._loop.time() + self._seconds
        if self._handle is None:
            self._handle = self._loop.call_at(self._deadline, self._check)
        try:
            return await self._content.readany()
        finally:
            self._deadline = None

    def _check(self) -> None:
        self._handle = None
        deadline = self._deadline
        if deadline is None:
            return
        if self._loop.time() >= deadline:
            self._content.set_exception(IdleTimeout())
        else:
            self._handle = self._loop.call_at(deadline, self._check)

    def stop(self) -> None:
        """Cancel the pending timer (call once the stream is over)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
