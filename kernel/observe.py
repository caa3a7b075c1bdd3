"""Per-request observation: what metrics need from the HTTP layer, at near-zero cost when unused.

Plugins return :class:`RequestObserver`\\ s from ``enclava_request_observers``; the kernel calls
each once per routed request, when its response is complete (the last body chunk of a stream
included). With no observer enabled, the gate does not even read the clock.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kernel.types import ApiSurface

__all__ = ["RequestObserver"]


@runtime_checkable
class RequestObserver(Protocol):
    """Told how each routed request ended; must be fast, synchronous and must not raise.

    ``route`` is the route template (``/api/v1/models/{model:path}``), never the raw path, so
    it carries no user data; ``error_code`` is the OpenAI-shaped error's ``code`` when the
    gateway itself refused or failed the request (``rate_limit_exceeded``, ...), else None.
    """

    name: str

    def observe(
        self,
        surface: ApiSurface,
        route: str,
        method: str,
        status: int,
        seconds: float,
        error_code: str | None,
    ) -> None: ...
