"""The metric families Enclava counts as things happen (scrape-time gauges are in
:mod:`.scrape`). Names and units follow Prometheus conventions: ``_total`` counters, ``_seconds``
histograms, base units.

Each kernel gets its own :class:`~prometheus_client.CollectorRegistry`, so two apps in one process
stay apart. Under ``enclava serve --workers N`` the server sets ``PROMETHEUS_MULTIPROC_DIR``:
every worker then writes its values to files there and a scrape, whichever worker answers it,
sums them (:func:`counted_collector`).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["DURATION_BUCKETS", "MULTIPROC_ENV", "Families", "counted_collector", "multiprocess"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def multiprocess() -> bool:
    """True when values are shared through files between worker processes."""
    return bool(os.environ.get(MULTIPROC_ENV))


class Families:
    """Counters and histograms of one kernel, registered in :attr:`registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.http_requests = Counter(
            "enclava_http_requests",
            "Requests answered, by API surface, route template, method and status.",
            ["surface", "route", "method", "status"],
            registry=reg,
        )
        self.http_duration = Histogram(
            "enclava_http_request_duration_seconds",
            "Time from the gate to the last response byte (streams included).",
            ["surface", "route", "method"],
            buckets=DURATION_BUCKETS,
            registry=reg,
        )
        self.refusals = Counter(
            "enclava_refusals",
            "Requests refused by a rate limit or a hard budget.",
            ["reason"],
            registry=reg,
        )
        self.model_requests = Counter(
            "enclava_model_requests",
            "Model calls recorded, by provider, model, kind and status.",
            ["provider", "model", "kind", "status"],
            registry=reg,
        )
        self.upstream_duration = Histogram(
            "enclava_upstream_duration_seconds",
            "Model call duration from admission to its last byte (retries, failover included).",
            ["provider", "model"],
            buckets=DURATION_BUCKETS,
            registry=reg,
        )
        self.first_token = Histogram(
            "enclava_time_to_first_token_seconds",
            "Admission to the first streamed byte of a model call (not streamed: to its answer).",
            ["provider", "model"],
            buckets=DURATION_BUCKETS,
            registry=reg,
        )
        self.tokens = Counter(
            "enclava_tokens",
            "Tokens the providers reported, by provider, model and type (prompt, completion).",
            ["provider", "model", "type"],
            registry=reg,
        )
        self.spend = Counter(
            "enclava_spend",
            "Cost of model calls in units of the accounting currency.",
            ["provider", "model", "currency"],
            registry=reg,
        )


def counted_collector(families: Families) -> Any:
    """What holds the counted values: this process's registry, or every worker's files."""
    if multiprocess():
        return MultiProcessCollector(None, path=os.environ[MULTIPROC_ENV])  # type: ignore[no-untyped-call]
    return families.registry
