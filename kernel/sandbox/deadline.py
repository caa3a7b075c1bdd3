"""The deadline of one guest call, as host functions on the call's thread see it.

Epoch interruption stops running WebAssembly, not a thread blocked in the host, so every host
wait the guest can cause (a clock it sleeps on, a KV, HTTP or LLM call) asks the current call
for its remaining time and waits no longer; once none is left the host function traps the guest
with :class:`DeadlineExceeded`.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import wasmtime

__all__ = [
    "WOULD_WAIT",
    "CallScope",
    "CurrentCall",
    "Deadline",
    "DeadlineExceeded",
    "Timer",
    "WouldWait",
]


MAX_HELD_LINES = 1000
"""``log`` lines a call on the event loop keeps (the newest) until it finishes."""


WOULD_WAIT = "would wait on the event loop's thread"
"""In the message of :class:`WouldWait`: the trap that ends the guest carries only the text."""


class DeadlineExceeded(wasmtime.WasmtimeError):
    """Raised inside a host function when the call has no time left: the guest traps."""

    def __init__(self, what: str = "the call") -> None:
        super().__init__(f"deadline exceeded: {what} ran past limits.timeout_ms")


class WouldWait(DeadlineExceeded):
    """Raised inside a host function that would wait (a KV, HTTP or LLM call, a sleep) while the
    call runs on the event loop's thread, which must not wait: the guest ends as at a deadline,
    and the call runs again on one of the plugin's call threads."""

    def __init__(self, what: str) -> None:  # its own message, not DeadlineExceeded's
        wasmtime.WasmtimeError.__init__(self, f"{what} {WOULD_WAIT}")


class Deadline:
    """The instant by which one call must end: ``seconds`` after the guest starts running
    (:meth:`start`); ``abandoned`` once nobody waits for the answer any more."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = math.inf
        self.abandoned = False

    def start(self) -> Deadline:
        """The call starts now: it must end within ``seconds``."""
        self.at = time.monotonic() + self.seconds
        return self

    def remaining(self) -> float:
        """Seconds left (negative once passed; infinite before the start)."""
        return self.at - time.monotonic()


class Timer(Protocol):
    """Makes a WASI pollable that becomes ready after ``nanoseconds`` (see :mod:`clocks`);
    ``used`` once it made one (the guest may keep it, and wait on it in a later call)."""

    used: bool

    def __call__(self, store: Any, nanoseconds: int) -> object: ...


class CurrentCall:
    """The call running on this thread: its deadline, its instance's timer, the plugin
    configuration that instance was created with (what ``config-get`` answers) and the KV
    additions ``kv-add`` collected (applied once the call has returned ok)."""

    def __init__(
        self,
        deadline: Deadline,
        timer: Timer,
        config: Mapping[str, Any] | None = None,
        *,
        on_loop: bool = False,
    ) -> None:
        self.deadline = deadline
        self.timer = timer
        self.config: Mapping[str, Any] = config or {}
        self.on_loop = on_loop
        """The call runs on the event loop's thread: nothing may wait (:class:`WouldWait`)."""
        self.cut_short = False
        """A sleep was cut to end at the deadline: the guest's answer, if any, came too late."""
        self.adds: dict[str, int] = {}
        """Full KV key -> delta, summed per key over the call's ``kv-add`` calls."""
        self.lines: deque[tuple[str, str]] = deque(maxlen=MAX_HELD_LINES)
        """``log`` lines of a call on the loop (the newest, cut to the log's line length),
        written once it finished there."""

    def budget(self, seconds: float, what: str) -> float:
        """``seconds``, or less if the deadline comes first; DeadlineExceeded when it passed,
        WouldWait on the event loop's thread."""
        if self.on_loop:
            raise WouldWait(what)
        left = self.deadline.remaining()
        if left <= 0:
            raise DeadlineExceeded(what)
        return min(seconds, left)

    def sleep(self, store: Any, nanoseconds: int) -> object:
        """A pollable ready after ``nanoseconds`` or at the deadline, whichever comes first."""
        left = int(self.budget(nanoseconds / 1e9, "a sleep") * 1e9)
        if nanoseconds > left:
            self.cut_short = True
        return self.timer(store, max(0, min(nanoseconds, left)))


class CallScope:
    """Per plugin: which call, if any, runs on each thread (a thread runs one at a time)."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextlib.contextmanager
    def running(self, call: CurrentCall) -> Iterator[CurrentCall]:
        """Make ``call`` the current call of this thread while the guest runs."""
        self._local.call = call
        try:
            yield call
        finally:
            self._local.call = None

    def peek(self) -> CurrentCall | None:
        """The call on this thread, if any."""
        call: CurrentCall | None = getattr(self._local, "call", None)
        return call

    def current(self) -> CurrentCall:
        """The call on this thread; DeadlineExceeded outside a call (nothing may wait then)."""
        call: CurrentCall | None = getattr(self._local, "call", None)
        if call is None:
            raise DeadlineExceeded("a host call outside any guest call")
        return call
