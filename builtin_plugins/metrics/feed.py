"""What feeds the counters: a request observer (HTTP layer) and a usage sink (model calls)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from builtin_plugins.metrics.labels import ModelLabels
from kernel.exchange import UsageRecord
from kernel.types import ApiSurface

if TYPE_CHECKING:
    from builtin_plugins.metrics.families import Families

__all__ = ["REFUSALS", "HttpObserver", "LastErrors", "UsageMetrics"]

REFUSALS = {"rate_limit_exceeded": "rate_limit", "insufficient_quota": "budget"}
"""Error codes of refusals, by the ``reason`` label they count under."""
MICROS = 1_000_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class HttpObserver:
    """:class:`~kernel.observe.RequestObserver` counting every routed request.

    Label children are cached per (surface, route, method, status): all four come from the
    app's own routes and answers, so the cache is bounded, and a hit costs one dict lookup.
    """

    name = "metrics"

    def __init__(self, families: Families) -> None:
        self._families = families
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    def observe(
        self,
        surface: ApiSurface,
        route: str,
        method: str,
        status: int,
        seconds: float,
        error_code: str | None,
    ) -> None:
        key = (surface, route, method, status)
        children = self._children.get(key)
        if children is None:
            families = self._families
            children = (
                families.http_requests.labels(surface, route, method, str(status)),
                families.http_duration.labels(surface, route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if error_code is not None and error_code in REFUSALS:
            self._families.refusals.labels(REFUSALS[error_code]).inc()


class UsageMetrics:
    """:class:`~kernel.exchange.UsageSink` counting model calls, tokens, spend and timings.

    Label children are cached per family and label values, as in :class:`HttpObserver`: every
    value is bounded (:class:`~builtin_plugins.metrics.labels.ModelLabels`, kinds, statuses,
    one currency), and a child is created on first use only, so no zero series appears.
    """

    name = "metrics"

    def __init__(self, families: Families, labels: ModelLabels) -> None:
        self._families = families
        self._labels = labels
        self._children: dict[tuple[str, ...], Any] = {}

    async def write(self, records: Sequence[UsageRecord]) -> None:
        await self._labels.refresh()
        for record in records:
            self._count(record)

    def _child(self, family: str, *labels: str) -> Any:
        key = (family, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = getattr(self._families, family).labels(*labels)
        return child

    def _count(self, record: UsageRecord) -> None:
        child = self._child
        provider = self._labels.provider(record.provider)
        model = self._labels.model(record.model)
        child("model_requests", provider, model, record.kind, str(record.status)).inc()
        child("upstream_duration", provider, model).observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            child("first_token", provider, model).observe(record.ttft_ms / 1000)
        if record.prompt_tokens:
            child("tokens", provider, model, "prompt").inc(record.prompt_tokens)
        if record.completion_tokens:
            child("tokens", provider, model, "completion").inc(record.completion_tokens)
        if record.cost_micros:
            # the accounting currency: one configured value, so one label value
            currency = record.currency if _CURRENCY.match(record.currency) else "other"
            child("spend", provider, model, currency).inc(record.cost_micros / MICROS)


class LastErrors:
    """Usage sink keeping the error code of the latest failed model call through each
    provider (``upstream_error``, ``http_502``: a class, never a message) and when it was."""

    name = "provider-errors"

    def __init__(self) -> None:
        self.latest: dict[str, tuple[str, float]] = {}

    async def write(self, records: Sequence[UsageRecord]) -> None:
        for record in records:
            if record.provider is not None and (record.error_code or record.status >= 400):
                code = record.error_code or f"http_{record.status}"
                self.latest[record.provider] = (code[:64], time.time())
