"""The metric families Enclava counts as things happen (scrape-time gauges are in
:mod:`.scrape`). Names and units follow Prometheus conventions: ``_total`` counters, ``_seconds``
histograms, base units.

Each kernel gets its own :class:`~prometheus_client.CollectorRegistry`, so two apps in one process
stay apart. Under ``enclava serve --workers N`` the server sets ``PROMETHEUS_MULTIPROC_DIR``:
every worker then writes its values to files there and a scrape, whichever worker answers it,
sums them (:func:`counted_collector`); the one gauge, the usage-queue depth, is each worker's
latest value, summed over the workers.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["DURATION_BUCKETS", "MULTIPROC_ENV", "Families", "counted_collector", "multiprocess"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
PLUGIN_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)
"""Sandboxed plugin calls: a filter takes a millisecond or less, a deadline at most seconds."""


def multiprocess() -> bool:
    """True when values are shared through files between worker processes."""
    return bool(os.environ.get(MULTIPROC_ENV))


def _http(reg: CollectorRegistry) -> tuple[Counter, Histogram, Counter]:
    requests = Counter(
        "enclava_http_requests",
        "Requests answered, by API surface, route template, method and status.",
        ["surface", "route", "method", "status"],
        registry=reg,
    )
    duration = Histogram(
        "enclava_http_request_duration_seconds",
        "Time from the gate to the last response byte (streams included).",
        ["surface", "route", "method"],
        buckets=DURATION_BUCKETS,
        registry=reg,
    )
    refusals = Counter(
        "enclava_refusals",
        "Requests refused by a rate limit or a hard budget.",
        ["reason"],
        registry=reg,
    )
    return requests, duration, refusals


def _model_calls(reg: CollectorRegistry) -> tuple[Counter, Histogram, Histogram]:
    requests = Counter(
        "enclava_model_requests",
        "Model calls recorded, by provider, model, kind and status.",
        ["provider", "model", "kind", "status"],
        registry=reg,
    )
    upstream = Histogram(
        "enclava_upstream_duration_seconds",
        "Model call duration from admission to its last byte (retries, failover included).",
        ["provider", "model"],
        buckets=DURATION_BUCKETS,
        registry=reg,
    )
    first_token = Histogram(
        "enclava_time_to_first_token_seconds",
        "Admission to the first streamed byte of a model call (not streamed: to its answer).",
        ["provider", "model"],
        buckets=DURATION_BUCKETS,
        registry=reg,
    )
    return requests, upstream, first_token


def _model_usage(reg: CollectorRegistry) -> tuple[Counter, Counter]:
    tokens = Counter(
        "enclava_tokens",
        "Tokens the providers reported, by provider, model and type (prompt, completion).",
        ["provider", "model", "type"],
        registry=reg,
    )
    spend = Counter(
        "enclava_spend",
        "Cost of model calls in units of the accounting currency.",
        ["provider", "model", "currency"],
        registry=reg,
    )
    return tokens, spend


def _plugins(reg: CollectorRegistry) -> tuple[Counter, Histogram]:
    calls = Counter(
        "enclava_plugin_calls",
        "Calls into sandboxed plugins, by plugin, kind and outcome (ok, error, trap, timeout,"
        " too_large, busy).",
        ["plugin", "kind", "outcome"],
        registry=reg,
    )
    duration = Histogram(
        "enclava_plugin_call_duration_seconds",
        "Duration of calls into sandboxed plugins, waiting for a free instance included.",
        ["plugin", "kind"],
        buckets=PLUGIN_BUCKETS,
        registry=reg,
    )
    return calls, duration


def _rag(reg: CollectorRegistry) -> tuple[Counter, Histogram]:
    jobs = Counter(
        "enclava_rag_ingest_jobs",
        "Document ingest jobs ended, by final state (indexed, failed, cancelled).",
        ["state"],
        registry=reg,
    )
    query = Histogram(
        "enclava_rag_query_duration_seconds",
        "Retrieval latency (embedding the query, searching, decrypting the passages), by mode.",
        ["mode"],
        buckets=DURATION_BUCKETS,
        registry=reg,
    )
    return jobs, query


def _usage_queue(reg: CollectorRegistry) -> Gauge:
    return Gauge(
        "enclava_usage_queue_depth",
        "Usage records queued and not yet stored (summed over the workers).",
        registry=reg,
        multiprocess_mode="livesum",
    )


class Families:
    """Counters, histograms and the queue gauge of one kernel, registered in :attr:`registry`."""

    def __init__(self) -> None:
        self.registry = reg = CollectorRegistry(auto_describe=True)
        self.http_requests, self.http_duration, self.refusals = _http(reg)
        self.model_requests, self.upstream_duration, self.first_token = _model_calls(reg)
        self.tokens, self.spend = _model_usage(reg)
        self.plugin_calls, self.plugin_duration = _plugins(reg)
        self.rag_ingest_jobs, self.rag_query_duration = _rag(reg)
        self.usage_queue = _usage_queue(reg)


def counted_collector(families: Families) -> Any:
    """What holds the counted values: this process's registry, or every worker's files."""
    if multiprocess():
        return MultiProcessCollector(None, path=os.environ[MULTIPROC_ENV])  # type: ignore[no-untyped-call]
    return families.registry
