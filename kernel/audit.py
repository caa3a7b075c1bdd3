"""Builds audit events from a request context, so every plugin records actors the same way."""

from __future__ import annotations

from typing import Any

from kernel.types import AuditEvent, AuditOutcome, RequestContext

__all__ = ["event_from_context"]


def event_from_context(
    context: RequestContext | None,
    *,
    action: str,
    outcome: AuditOutcome,
    resource_type: str | None = None,
    resource_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """An AuditEvent whose actor, IP and request id come from ``context`` (None = system)."""
    principal = context.principal if context else None
    return AuditEvent(
        action=action,
        outcome=outcome,
        actor_type=principal.kind if principal else ("anonymous" if context else "system"),
        actor_id=principal.id if principal else None,
        resource_type=resource_type,
        resource_id=resource_id,
        ip=context.client_ip if context else None,
        request_id=context.request_id if context else None,
        details=details or {},
    )
