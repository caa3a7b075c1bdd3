"""``GET /api/v1/providers/status`` (scope ``models.list``) and its fuller admin twin
``GET /api-internal/v1/providers/status``: each enabled provider's health, circuit, attested
models and the class of its last error — what a client or an operator checks before blaming a
model. Answered from this replica's memory (no provider is called)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from litestar import Request, get

from builtin_plugins.metrics.feed import LastErrors
from builtin_plugins.metrics.runtime import MetricsRuntime
from kernel.dependencies import NamedDependency
from kernel.gate import request_context
from kernel.roles import require_role
from kernel.runtime import Kernel
from kernel.services import ProviderCircuits, ServiceMissingError
from kernel.upstream import Provider

__all__ = ["INTERNAL_ROUTES", "PUBLIC_ROUTES", "ProviderDetail", "ProviderStatus"]

Circuit = Literal["closed", "open", "half_open", "unknown"]


class ProviderStatus(msgspec.Struct, kw_only=True):
    """One provider as clients may see it."""

    name: str
    region: str
    healthy: bool
    circuit: Circuit
    """``unknown`` while the ``llm`` plugin (which keeps circuits) is disabled."""
    models: int
    attested_models: int
    last_error: str | None
    """Error code of the latest failed call through it that this replica saw, if any."""


class ProviderStatusList(msgspec.Struct):
    data: list[ProviderStatus]


class ProviderDetail(ProviderStatus, kw_only=True):
    """One provider as an admin sees it: configuration and the health problem too."""

    kind: str
    priority: int
    confidential: bool
    requires_attestation: bool
    max_retries: int
    requests_per_minute: int | None
    problem: str | None
    last_error_at: datetime | None


class ProviderDetailList(msgspec.Struct):
    data: list[ProviderDetail]


def _circuit(kernel: Kernel, provider: str) -> Circuit:
    try:
        return kernel.service(ProviderCircuits).circuit_state(provider)
    except ServiceMissingError:
        return "unknown"


async def _detail(kernel: Kernel, provider: Provider, errors: LastErrors) -> ProviderDetail:
    models = list(await provider.list_models())
    verifier = next(
        (v for v in kernel.components.verifiers if v.provider_kind == provider.kind), None
    )
    attested = sum(1 for m in models if verifier and verifier.status(provider.name, m).valid)
    last = errors.latest.get(provider.name)
    return ProviderDetail(
        name=provider.name,
        region=provider.region,
        healthy=provider.healthy,
        circuit=_circuit(kernel, provider.name),
        models=len(models),
        attested_models=attested,
        last_error=last[0] if last else None,
        kind=provider.kind,
        priority=provider.priority,
        confidential=provider.confidential,
        requires_attestation=provider.requires_attestation,
        max_retries=provider.max_retries,
        requests_per_minute=provider.requests_per_minute,
        problem=provider.problem,
        last_error_at=datetime.fromtimestamp(last[1], UTC) if last else None,
    )


async def _details(kernel: Kernel) -> list[ProviderDetail]:
    errors = MetricsRuntime.of(kernel).last_errors
    return [await _detail(kernel, p, errors) for p in kernel.components.providers]


_PUBLIC_FIELDS = tuple(f.name for f in msgspec.structs.fields(ProviderStatus))


@get("/providers/status", opt={"enclava_scope": "models.list"})
async def provider_status(kernel: NamedDependency[Kernel]) -> ProviderStatusList:
    """Each enabled provider: health, circuit, attested models, class of its last error."""
    return ProviderStatusList(
        data=[
            ProviderStatus(**{name: getattr(d, name) for name in _PUBLIC_FIELDS})
            for d in await _details(kernel)
        ]
    )


@get("/providers/status", opt={"enclava_role": "admin"})
async def provider_status_admin(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> ProviderDetailList:
    """Each enabled provider with its configuration, health problem and last error time."""
    context = request_context(request.scope)
    require_role(context.principal if context else None, "admin")
    return ProviderDetailList(data=await _details(kernel))


PUBLIC_ROUTES = [provider_status]
INTERNAL_ROUTES = [provider_status_admin]
