"""``GET /api/v1/attestation`` (current status per provider and model) and, for admins,
``GET /api-internal/v1/attestation/history`` and ``POST /api-internal/v1/attestation/reverify``
(the trust policy's routes are in :mod:`.routes_trust`)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromQuery

from builtin_plugins.attestation.history import HistoryEntry, HistoryStore
from builtin_plugins.attestation.service import service_of
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency, service
from kernel.errors import InvalidRequestError
from kernel.gate import request_context
from kernel.roles import require_role
from kernel.runtime import Kernel
from kernel.services import AttestationEntry, AttestationOverview

__all__ = ["ADMIN", "INTERNAL_ROUTES", "PUBLIC_ROUTES", "require_admin"]

MAX_LIMIT = 500
ADMIN = {"enclava_role": "admin"}
OVERVIEW = {"overview": service(AttestationOverview)}


class AttestationList(msgspec.Struct):
    data: list[AttestationEntry]


class HistoryList(msgspec.Struct):
    data: list[HistoryEntry]


def require_admin(request: Request[Any, Any, Any]) -> None:
    """The role check runs in auth's RoleCheck; this repeats it so a missing check fails
    closed."""
    context = request_context(request.scope)
    require_role(context.principal if context else None, "admin")


@get("/attestation", opt={"enclava_scope": "models.list"}, dependencies=OVERVIEW)
async def attestation_status(overview: NamedDependency[AttestationOverview]) -> AttestationList:
    """Current attestation status per provider and model."""
    return AttestationList(data=await overview.entries())


@get("/attestation/history", opt=ADMIN)
async def attestation_history(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    provider: FromQuery[str | None] = None,
    model: FromQuery[str | None] = None,
    limit: FromQuery[int] = 100,
) -> HistoryList:
    """Recorded attestations, newest first."""
    require_admin(request)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"'limit' must be between 1 and {MAX_LIMIT}.", param="limit")
    store = HistoryStore(kernel.stores.db)
    return HistoryList(data=await store.recent(limit=limit, provider=provider, model=model))


@post("/attestation/reverify", opt=ADMIN, status_code=200, dependencies=OVERVIEW)
async def reverify_now(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    overview: NamedDependency[AttestationOverview],
) -> AttestationList:
    """Attest every RedPill model now; the resulting status per provider and model."""
    require_admin(request)
    await service_of(kernel).reverify()
    await kernel.audit(
        event_from_context(
            request_context(request.scope),
            action="attestation.reverify",
            outcome="success",
            resource_type="attestation",
        )
    )
    return AttestationList(data=await overview.entries())


PUBLIC_ROUTES = (attestation_status,)
INTERNAL_ROUTES = (attestation_history, reverify_now)
