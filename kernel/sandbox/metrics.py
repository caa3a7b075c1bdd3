"""Per-plugin call metrics: counts and latency percentiles over the newest calls."""

from __future__ import annotations

import threading
from collections import deque

import msgspec

__all__ = ["CallMetrics", "MetricsSnapshot"]

_WINDOW = 2048


class MetricsSnapshot(msgspec.Struct, frozen=True):
    """Counts since start; percentiles (ms) over the newest calls."""

    calls: int
    errors: int
    traps: int
    p50_ms: float
    p99_ms: float


class CallMetrics:
    """Thread-safe counters and a bounded latency window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=_WINDOW)
        self.calls = 0
        self.errors = 0
        self.traps = 0

    def record(self, seconds: float, *, error: bool = False, trap: bool = False) -> None:
        """Count one finished call."""
        with self._lock:
            self.calls += 1
            self.errors += error or trap
            self.traps += trap
            self._latencies.append(seconds * 1000)

    def snapshot(self) -> MetricsSnapshot:
        """The current counts and percentiles."""
        with self._lock:
            ordered = sorted(self._latencies)
            calls, errors, traps = self.calls, self.errors, self.traps

        def pct(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0

        return MetricsSnapshot(calls, errors, traps, pct(0.5), pct(0.99))
