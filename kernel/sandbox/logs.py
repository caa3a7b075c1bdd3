"""A plugin's captured output: host ``log`` calls, stdout and stderr, bounded in lines and size."""

from __future__ import annotations

import threading
import time
from collections import deque

import msgspec

__all__ = ["LEVELS", "LogBuffer", "LogLine"]

MAX_LINE_CHARS = 2000
LEVELS = frozenset({"debug", "info", "warning", "error"})


class LogLine(msgspec.Struct, frozen=True):
    """One captured line; ``stream`` is a log level, ``stdout`` or ``stderr``."""

    at: float
    stream: str
    message: str


class LogBuffer:
    """The newest ``capacity`` lines; written from call threads, read by the admin API."""

    def __init__(self, capacity: int) -> None:
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def write(self, stream: str, message: str) -> None:
        """Append ``message`` (truncated to :data:`MAX_LINE_CHARS`)."""
        line = LogLine(at=time.time(), stream=stream, message=message[:MAX_LINE_CHARS])
        with self._lock:
            self._lines.append(line)

    def log(self, level: str, message: str) -> None:
        """Append a guest's ``log`` line (an unknown level counts as ``info``)."""
        self.write(level if level in LEVELS else "info", message)

    def capture(self, stream: str) -> _Capture:
        """A WASI output callback writing each line of ``stream`` here."""
        return _Capture(self, stream)

    def lines(self) -> list[LogLine]:
        """A copy of the lines, oldest first."""
        with self._lock:
            return list(self._lines)


class _Capture:
    def __init__(self, buffer: LogBuffer, stream: str) -> None:
        self._buffer = buffer
        self._stream = stream

    def __call__(self, data: bytes) -> None:
        text = bytes(data).decode("utf-8", "replace").rstrip("\n")
        for line in text.splitlines() or [text]:
            if line:
                self._buffer.write(self._stream, line)
