"""Scrape-time state: provider health, circuits and attestation, read when ``/metrics`` is asked.

These are facts about now, not counts, so they are computed at each scrape from the kernel's
components and services (the same in every worker) instead of being kept in gauges. The
attestation and circuit families are left out while their plugins are disabled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from builtin_plugins.metrics.labels import OTHER, ModelLabels
from kernel.runtime import Kernel
from kernel.services import (
    AttestationEntry,
    AttestationOverview,
    ProviderCircuits,
    ServiceMissingError,
)

__all__ = ["CIRCUIT_STATES", "exposition", "provider_families"]

CIRCUIT_STATES = ("closed", "open", "half_open")


class _Collected:
    """One scrape's collector: the counted families, then the scrape-time ones."""

    def __init__(self, counted: Any, current: list[Metric]) -> None:
        self._counted = counted
        self._current = current

    def collect(self) -> Iterator[Metric]:
        yield from self._counted.collect()
        yield from self._current


async def _attestation(kernel: Kernel) -> list[AttestationEntry] | None:
    try:
        overview = kernel.service(AttestationOverview)
    except ServiceMissingError:
        return None
    return await overview.entries()


def _circuits(kernel: Kernel) -> ProviderCircuits | None:
    try:
        return kernel.service(ProviderCircuits)
    except ServiceMissingError:
        return None


async def provider_families(kernel: Kernel, labels: ModelLabels) -> list[Metric]:
    """Gauges of every enabled provider, its circuit and its models' attestation."""
    providers = kernel.components.providers
    healthy = GaugeMetricFamily(
        "enclava_provider_healthy",
        "1 when the provider's model list could be fetched, else 0.",
        labels=["provider", "region"],
    )
    for provider in providers:
        healthy.add_metric([provider.name, provider.region], 1.0 if provider.healthy else 0.0)
    found: list[Metric] = [healthy]
    circuits = _circuits(kernel)
    if circuits is not None:
        circuit = GaugeMetricFamily(
            "enclava_provider_circuit_state",
            "1 for the provider's current circuit state (closed, open, half_open), else 0.",
            labels=["provider", "state"],
        )
        for provider in providers:
            state = circuits.circuit_state(provider.name)
            for name in CIRCUIT_STATES:
                circuit.add_metric([provider.name, name], 1.0 if state == name else 0.0)
        found.append(circuit)
    entries = await _attestation(kernel)
    if entries is not None:
        found.extend(_attestation_families(entries, labels))
    return found


def _attestation_families(entries: list[AttestationEntry], labels: ModelLabels) -> list[Metric]:
    verified = GaugeMetricFamily(
        "enclava_attestation_verified",
        "1 when the model's attestation is currently valid, else 0.",
        labels=["provider", "model"],
    )
    expiry = GaugeMetricFamily(
        "enclava_attestation_expiry_timestamp_seconds",
        "When the model's current attestation verdict expires (Unix time).",
        labels=["provider", "model"],
    )
    attested = GaugeMetricFamily(
        "enclava_provider_attested_models",
        "How many of the provider's models are currently attested.",
        labels=["provider"],
    )
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.provider] = counts.get(entry.provider, 0) + int(entry.verified)
        model = labels.model(entry.model)
        if model == OTHER:
            continue  # past the label budget: counted above, not listed one by one
        verified.add_metric([entry.provider, model], 1.0 if entry.verified else 0.0)
        if entry.expires_at is not None:
            expiry.add_metric([entry.provider, model], entry.expires_at.timestamp())
    for provider, count in sorted(counts.items()):
        attested.add_metric([provider], float(count))
    return [verified, expiry, attested]


async def exposition(kernel: Kernel, counted: Any, labels: ModelLabels) -> bytes:
    """The Prometheus text exposition: ``counted`` (a registry or multi-process collector)
    plus the scrape-time families."""
    await labels.refresh(force=True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collected(counted, await provider_families(kernel, labels)))
    return generate_latest(registry)
