"""Why a guest call produced no result, as :class:`CallFailed` with a reason the host acts on.

``trap`` and ``timeout`` mean the instance died (it is discarded) and count towards
auto-disable; ``busy`` means the call never started because every one of the plugin's own call
threads stayed taken until the deadline; ``error`` and ``too_large`` are ordinary failures.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CallFailed", "FailureReason", "failure_of_trap"]

FailureReason = Literal["error", "trap", "timeout", "too_large", "busy"]

_DEADLINE_MARKERS = ("interrupt", "epoch", "deadline exceeded")


class CallFailed(Exception):
    """A call did not produce a result; ``reason`` says why, ``message`` is safe to show."""

    def __init__(self, plugin: str, reason: FailureReason, message: str) -> None:
        super().__init__(f"plugin '{plugin}' {reason}: {message}")
        self.plugin = plugin
        self.reason = reason
        self.message = message

    @property
    def trapped(self) -> bool:
        """True when the instance died (trap or deadline)."""
        return self.reason in ("trap", "timeout")


def _trap_message(text: str) -> str:
    """The cause wasmtime reports (not the backtrace, which names guest internals)."""
    cause = text.split("Caused by:", 1)[-1] if "Caused by:" in text else text
    lines = [line.strip() for line in cause.splitlines() if line.strip()]
    if not lines:
        return "trap"
    return (lines[-1] if "Caused by:" in text else lines[0])[:500]


def failure_of_trap(plugin: str, exc: Exception, prefix: str = "") -> CallFailed:
    """The CallFailed for a wasmtime error: ``timeout`` when the deadline ended it."""
    text = str(exc)
    reason: FailureReason = (
        "timeout" if any(m in text.lower() for m in _DEADLINE_MARKERS) else "trap"
    )
    return CallFailed(plugin, reason, prefix + _trap_message(text))
