"""Observation for metrics, at near-zero cost when unused.

Plugins return :class:`RequestObserver`\\ s from ``enclava_request_observers``; the kernel calls
each once per routed request, when its response is complete (the last body chunk of a stream
included, or the client's going away before it: error code :data:`CLIENT_CLOSED`). With no
observer enabled and the access log off (:mod:`kernel.access_log`, which the kernel writes at the
same moment), the gate does not even read the clock.

Events other than requests and model calls (sandboxed plugin calls, RAG jobs and queries, the
usage queue) go to the :class:`Meter` the ``metrics`` plugin publishes as a service while it
counts; the kernel puts it in ``kernel.components.meter``, else the no-op :data:`NO_METER`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kernel.types import ApiSurface

__all__ = ["CLIENT_CLOSED", "NO_METER", "Meter", "NoMeter", "RequestObserver", "no_meter"]

CLIENT_CLOSED = "client_closed"
"""Error code of a request whose client went away before its last body chunk was sent."""


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


@runtime_checkable
class Meter(Protocol):
    """Counts events for metrics; every method is fast, synchronous and never raises.

    Callers pass label values from bounded sets only (installed plugin names, fixed vocabularies),
    never user data; the implementation maps anything else to ``other``.
    """

    def plugin_call(self, plugin: str, kind: str, outcome: str, seconds: float) -> None:
        """One call into the sandboxed plugin ``plugin``: ``kind`` (``endpoint``, ``execute``,
        ``schedule``, ``filter-request``, ``filter-response``), ``outcome`` (``ok`` or the
        failure reason: ``error``, ``trap``, ``timeout``, ``too_large``, ``busy``) and how many
        ``seconds`` it took."""
        ...

    def rag_ingest(self, state: str) -> None:
        """An ingest job ended in ``state`` (``indexed``, ``failed`` or ``cancelled``)."""
        ...

    def rag_query(self, mode: str, seconds: float) -> None:
        """A retrieval in ``mode`` (``dense``, ``sparse``, ``hybrid``) answered in ``seconds``."""
        ...

    def usage_queue(self, depth: int) -> None:
        """``depth`` usage records are queued on this replica and not yet stored."""
        ...


class NoMeter:
    """Metrics off: every event is dropped."""

    __slots__ = ()

    def plugin_call(self, plugin: str, kind: str, outcome: str, seconds: float) -> None:
        return None

    def rag_ingest(self, state: str) -> None:
        return None

    def rag_query(self, mode: str, seconds: float) -> None:
        return None

    def usage_queue(self, depth: int) -> None:
        return None


NO_METER: Meter = NoMeter()


def no_meter() -> Meter:
    """The meter of code that has no kernel."""
    return NO_METER
