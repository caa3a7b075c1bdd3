"""The trust policy for admins: ``GET /api-internal/v1/attestation/trust`` lists every rule in
force (settings, trust anchor, added), ``POST`` appends one (audited) and re-attests refused
models in the background, ``DELETE …/trust/{rule_id}`` removes an added one (audited) and
re-attests every model before answering, so none is served on the removed rule's word."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, post
from litestar.params import FromPath, JSONBody

from builtin_plugins.attestation.allowlist import AllowlistStore, StoredRule
from builtin_plugins.attestation.policy import HOW_TO_ALLOW, TrustRule
from builtin_plugins.attestation.routes import ADMIN, require_admin
from builtin_plugins.attestation.service import service_of
from builtin_plugins.attestation.settings import TCB_STATUSES
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.gate import request_context
from kernel.runtime import Kernel

__all__ = ["TRUST_ROUTES", "TrustPolicy"]


class TrustPolicy(msgspec.Struct, kw_only=True):
    """Every trust rule in force, by where it comes from."""

    settings: list[TrustRule]
    anchor: list[TrustRule]
    added: list[StoredRule]
    label: str
    how_to_allow: str = HOW_TO_ALLOW


@get("/attestation/trust", opt=ADMIN)
async def trust_policy(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> TrustPolicy:
    """The trust rules in force: ``[[attestation.trust]]``, the anchor's and those added here."""
    require_admin(request)
    service = service_of(kernel)
    trust = service.trust()
    return TrustPolicy(
        settings=list(service.settings().trust),
        anchor=list(trust.rules),
        added=await AllowlistStore(kernel.stores.db).all(),
        label=trust.label,
    )


def _validated(rule: TrustRule) -> TrustRule:
    if not rule.workloads:
        raise InvalidRequestError("A trust rule lists at least one workload.", param="workloads")
    unknown = set(rule.accepted_tcb_statuses) - TCB_STATUSES
    if unknown:
        raise InvalidRequestError(
            f"Unknown TCB status {sorted(unknown)[0]!r}.", param="accepted_tcb_statuses"
        )
    return rule


@post("/attestation/trust", opt=ADMIN, status_code=201)
async def add_trust_rule(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], data: JSONBody[TrustRule]
) -> StoredRule:
    """Append a trust rule (audited); refused models are re-attested in the background."""
    require_admin(request)
    context = request_context(request.scope)
    actor = context.principal.id if context and context.principal else "unknown"
    stored = await AllowlistStore(kernel.stores.db).add(_validated(data), added_by=actor)
    await _audit(request, kernel, "attestation.trust.add", stored)
    service_of(kernel).schedule_refresh()
    return stored


async def _audit(
    request: Request[Any, Any, Any], kernel: Kernel, action: str, stored: StoredRule
) -> None:
    await kernel.audit(
        event_from_context(
            request_context(request.scope),
            action=action,
            outcome="success",
            resource_type="attestation_trust",
            resource_id=str(stored.id),
            details={"rule": msgspec.to_builtins(stored.rule)},
        )
    )


@delete("/attestation/trust/{rule_id:int}", opt=ADMIN, status_code=200)
async def remove_trust_rule(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], rule_id: FromPath[int]
) -> StoredRule:
    """Remove a rule added here (audited); every model is attested again before the answer."""
    require_admin(request)
    stored = await AllowlistStore(kernel.stores.db).remove(rule_id)
    if stored is None:
        raise NotFoundError(f"No trust rule {rule_id} was added here.", param="rule_id")
    await _audit(request, kernel, "attestation.trust.remove", stored)
    await service_of(kernel).reverify()
    return stored


TRUST_ROUTES = (trust_policy, add_trust_rule, remove_trust_rule)
