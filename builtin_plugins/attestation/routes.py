"""``GET /api/v1/attestation`` (current status per provider and model) and, for admins,
``GET /api-internal/v1/attestation/history`` and ``POST /api-internal/v1/attestation/reverify``
(the trust policy's routes are in :mod:`.routes_trust`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromQuery

from builtin_plugins.attestation.history import HistoryEntry, HistoryStore, signing_key
from builtin_plugins.attestation.service import service_of
from kernel.audit import event_from_context
from kernel.errors import InvalidRequestError
from kernel.gate import request_context
from kernel.roles import require_role
from kernel.runtime import Kernel

__all__ = [
    "ADMIN",
    "INTERNAL_ROUTES",
    "PUBLIC_ROUTES",
    "AttestationEntry",
    "admin_kernel",
    "current_entries",
]

MAX_LIMIT = 500
ADMIN = {"enclava_role": "admin"}


class AttestationEntry(msgspec.Struct, kw_only=True):
    """What clients may know about one provider model's attestation."""

    provider: str
    model: str
    upstream_model: str
    verified: bool
    label: str
    reason: str
    scheme: str | None = None
    checked_at: datetime | None = None
    expires_at: datetime | None = None
    tcb_status: str | None = None
    gpu_checked: bool = False
    signing_key: str | None = None
    measurements: dict[str, str] = {}


class AttestationList(msgspec.Struct):
    data: list[AttestationEntry]


class HistoryList(msgspec.Struct):
    data: list[HistoryEntry]


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


async def current_entries(kernel: Kernel) -> list[AttestationEntry]:
    """The status of every model of every provider, with the verdict behind it."""
    service = service_of(kernel)
    verdicts = {(v.provider, v.model): v for v in service.verdicts()}
    entries: list[AttestationEntry] = []
    for provider in kernel.components.providers:
        verifier = next(
            (v for v in kernel.components.verifiers if v.provider_kind == provider.kind), None
        )
        for model in await provider.list_models():
            status = verifier.status(provider.name, model) if verifier else None
            entry = AttestationEntry(
                provider=provider.name,
                model=model.id,
                upstream_model=model.upstream_id,
                verified=bool(status and status.valid),
                label=status.label if status else "none",
                reason=status.reason if status else "no verifier for this provider",
            )
            verdict = verdicts.get((provider.name, model.upstream_id))
            if verdict is not None:
                entry.scheme = verdict.scheme
                entry.checked_at = _time(verdict.checked_at)
                entry.expires_at = _time(verdict.expires_at)
                entry.tcb_status = verdict.tcb_status or None
                entry.gpu_checked = verdict.gpu_checked
                entry.signing_key = signing_key(verdict) or None
                entry.measurements = verdict.measurements
            entries.append(entry)
    return entries


@get("/attestation", opt={"enclava_scope": "models.list"})
async def attestation_status(request: Request[Any, Any, Any]) -> AttestationList:
    """Current attestation status per provider and model."""
    return AttestationList(data=await current_entries(request.app.state.kernel))


def admin_kernel(request: Request[Any, Any, Any]) -> Kernel:
    # The role check runs in auth's RoleCheck; this repeats it so a missing check fails closed.
    context = request_context(request.scope)
    require_role(context.principal if context else None, "admin")
    kernel: Kernel = request.app.state.kernel
    return kernel


@get("/attestation/history", opt=ADMIN)
async def attestation_history(
    request: Request[Any, Any, Any],
    provider: FromQuery[str | None] = None,
    model: FromQuery[str | None] = None,
    limit: FromQuery[int] = 100,
) -> HistoryList:
    """Recorded attestations, newest first."""
    kernel = admin_kernel(request)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"'limit' must be between 1 and {MAX_LIMIT}.", param="limit")
    store = HistoryStore(kernel.stores.db)
    return HistoryList(data=await store.recent(limit=limit, provider=provider, model=model))


@post("/attestation/reverify", opt=ADMIN, status_code=200)
async def reverify_now(request: Request[Any, Any, Any]) -> AttestationList:
    """Attest every RedPill model now; the resulting status per provider and model."""
    kernel = admin_kernel(request)
    await service_of(kernel).reverify()
    await kernel.audit(
        event_from_context(
            request_context(request.scope),
            action="attestation.reverify",
            outcome="success",
            resource_type="attestation",
        )
    )
    return AttestationList(data=await current_entries(kernel))


PUBLIC_ROUTES = (attestation_status,)
INTERNAL_ROUTES = (attestation_history, reverify_now)
