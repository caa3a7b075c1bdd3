"""Settings of the router (section ``llm``), and the check that provider timeouts fit them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import msgspec

from kernel.errors import ConfigError

__all__ = ["LlmSettings", "UpstreamTimeouts", "check_timeouts"]


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


@runtime_checkable
class UpstreamTimeouts(Protocol):
    """What the router needs to know of a provider section: its per-attempt timeouts."""

    enabled: bool
    connect_timeout: float
    read_timeout: float
    first_byte_timeout: float
    idle_chunk_timeout: float


_WAITS = ("read_timeout", "first_byte_timeout", "idle_chunk_timeout")


def check_timeouts(llm: LlmSettings, sections: Mapping[str, object]) -> None:
    """ConfigError unless, in every enabled provider section, ``connect_timeout`` plus each longer
    wait fits inside ``[llm] request_deadline_seconds`` (else a stall holds every request for
    the whole deadline and leaves no time to fail over)."""
    deadline = llm.request_deadline_seconds
    problems = [
        f"[{name}] connect_timeout + {wait} ({section.connect_timeout:g} + "
        f"{getattr(section, wait):g} s) exceeds [llm] request_deadline_seconds ({deadline:g} s)"
        for name, section in sections.items()
        if isinstance(section, UpstreamTimeouts) and section.enabled
        for wait in _WAITS
        if section.connect_timeout + getattr(section, wait) > deadline
    ]
    if problems:
        raise ConfigError(
            "Provider timeouts must fit inside the request deadline: "
            + "; ".join(problems)
            + ". Lower those timeouts, raise request_deadline_seconds, or disable the provider."
        )
