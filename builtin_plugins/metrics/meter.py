"""The :class:`~kernel.observe.Meter` the plugin publishes while it counts: sandboxed plugin
calls, RAG ingest jobs and queries, and the usage-queue depth, reported by whoever sees them.

Every label value is checked against a fixed vocabulary (else ``other``); plugin names are
those of installed sandboxed plugins, the first :data:`MAX_PLUGIN_LABELS` of them admitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builtin_plugins.metrics.labels import OTHER

if TYPE_CHECKING:
    from builtin_plugins.metrics.families import Families

__all__ = ["KINDS", "MAX_PLUGIN_LABELS", "MODES", "OUTCOMES", "STATES", "EventMeter"]

MAX_PLUGIN_LABELS = 100
KINDS = frozenset({"endpoint", "execute", "schedule", "filter-request", "filter-response"})
OUTCOMES = frozenset({"ok", "error", "trap", "timeout", "too_large", "busy"})
STATES = frozenset({"indexed", "failed", "cancelled"})
MODES = frozenset({"dense", "sparse", "hybrid"})


def _known(value: str, vocabulary: frozenset[str]) -> str:
    return value if value in vocabulary else OTHER


class EventMeter:
    """Counts what the kernel and the other plugins report (fast, synchronous, never raises)."""

    def __init__(self, families: Families, *, plugin_limit: int = MAX_PLUGIN_LABELS) -> None:
        self._families = families
        self._plugin_limit = plugin_limit
        self._plugins: set[str] = set()
        self._calls: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def _plugin(self, name: str) -> str:
        if name in self._plugins:
            return name
        if len(self._plugins) >= self._plugin_limit:
            return OTHER
        self._plugins.add(name)
        return name

    def plugin_call(self, plugin: str, kind: str, outcome: str, seconds: float) -> None:
        labels = (self._plugin(plugin), _known(kind, KINDS), _known(outcome, OUTCOMES))
        children = self._calls.get(labels)
        if children is None:  # bounded: admitted plugins x known kinds x known outcomes
            families = self._families
            children = (
                families.plugin_calls.labels(*labels),
                families.plugin_duration.labels(*labels[:2]),
            )
            self._calls[labels] = children
        children[0].inc()
        children[1].observe(seconds)

    def rag_ingest(self, state: str) -> None:
        self._families.rag_ingest_jobs.labels(_known(state, STATES)).inc()

    def rag_query(self, mode: str, seconds: float) -> None:
        self._families.rag_query_duration.labels(_known(mode, MODES)).observe(seconds)

    def usage_queue(self, depth: int) -> None:
        self._families.usage_queue.set(depth)
