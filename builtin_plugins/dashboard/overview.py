"""What the overview shows: today's requests and spend (the internal API's usage aggregate, so a
user sees their own and an admin everyone's) and each enabled provider with its health, circuit
and the attestation verdict of each of its models (the ``ProviderCircuits`` and
``AttestationOverview`` services)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from builtin_plugins.dashboard.api import InternalApi
from kernel.runtime import Kernel
from kernel.services import (
    AttestationEntry,
    AttestationOverview,
    ProviderCircuits,
    ServiceMissingError,
)

__all__ = ["ModelAttestation", "ProviderRow", "Today", "providers", "today"]

_MEASUREMENT_CHARS = 16


class Today(msgspec.Struct, frozen=True, kw_only=True):
    """Usage since midnight UTC; ``available`` is False when the usage plugin cannot answer."""

    available: bool
    requests: int = 0
    spend: str = "0"
    currency: str = ""


class ModelAttestation(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    verified: bool
    label: str
    reason: str
    tcb_status: str | None
    measurements: list[tuple[str, str, str]]
    """(name, shortened value, full value) for each measured register."""
    expires_at: datetime | None


class ProviderRow(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    region: str
    healthy: bool
    problem: str | None
    circuit: str
    models: list[ModelAttestation]


def _spend(micros: int) -> str:
    return f"{Decimal(micros) / Decimal(1_000_000):.4f}"


async def today(api: InternalApi) -> Today:
    """Requests and spend since midnight UTC, as the caller may see them."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    answer = await api.call(
        "GET", "/usage/aggregate", params={"group_by": "day", "start": midnight.isoformat()}
    )
    if not answer.ok or not isinstance(answer.body, dict):
        return Today(available=False)
    rows = answer.body.get("data", [])
    return Today(
        available=True,
        requests=sum(int(row["requests"]) for row in rows),
        spend=_spend(sum(int(row["cost_micros"]) for row in rows)),
        currency=str(answer.body.get("currency", "")),
    )


def _circuit(kernel: Kernel, provider: str) -> str:
    try:
        return kernel.service(ProviderCircuits).circuit_state(provider)
    except ServiceMissingError:
        return "unknown"


async def _attestation(kernel: Kernel) -> list[AttestationEntry]:
    try:
        overview = kernel.service(AttestationOverview)
    except ServiceMissingError:
        return []
    return await overview.entries()


def _model(entry: AttestationEntry) -> ModelAttestation:
    measurements = [
        (name, value[:_MEASUREMENT_CHARS] + ("…" if len(value) > _MEASUREMENT_CHARS else ""), value)
        for name, value in sorted(entry.measurements.items())
    ]
    return ModelAttestation(
        model=entry.model,
        verified=entry.verified,
        label=entry.label,
        reason=entry.reason,
        tcb_status=entry.tcb_status,
        measurements=measurements,
        expires_at=entry.expires_at,
    )


async def providers(kernel: Kernel, *, show_problems: bool) -> list[ProviderRow]:
    """Every enabled provider; health problems only for admins (they may name internals)."""
    entries = await _attestation(kernel)
    return [
        ProviderRow(
            name=provider.name,
            region=provider.region,
            healthy=provider.healthy,
            problem=provider.problem if show_problems else None,
            circuit=_circuit(kernel, provider.name),
            models=[_model(e) for e in entries if e.provider == provider.name],
        )
        for provider in kernel.components.providers
    ]
