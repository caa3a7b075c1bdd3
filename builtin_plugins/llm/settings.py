"""Settings of the router (section ``llm``)."""

from __future__ import annotations

import msgspec

__all__ = ["LlmSettings"]


class LlmSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Deadlines, backoff, circuit breaking and region policy for every routed request."""

    request_deadline_seconds: float = 120.0
    backoff_initial_seconds: float = 0.1
    backoff_max_seconds: float = 2.0
    circuit_failures: int = 5
    circuit_window_seconds: float = 30.0
    circuit_cooldown_seconds: float = 30.0
    required_region: str = ""

    def __post_init__(self) -> None:
        if self.request_deadline_seconds <= 0:
            raise ValueError("request_deadline_seconds must be positive")
        if not 0 < self.backoff_initial_seconds <= self.backoff_max_seconds:
            raise ValueError("need 0 < backoff_initial_seconds <= backoff_max_seconds")
        if self.circuit_failures < 1:
            raise ValueError("circuit_failures must be at least 1")
        if self.circuit_window_seconds <= 0 or self.circuit_cooldown_seconds <= 0:
            raise ValueError("circuit windows must be positive")
