"""Audit records for refused requests, at most one per client, kind and minute.

A scanner or a flood would otherwise turn every refused request into a SQL write.
"""

from __future__ import annotations

from typing import Any

from kernel.audit import event_from_context
from kernel.runtime import Kernel
from kernel.types import RequestContext

__all__ = ["AUDIT_WINDOW_SECONDS", "audit_rejection"]

AUDIT_WINDOW_SECONDS = 60.0


async def audit_rejection(
    kernel: Kernel,
    context: RequestContext,
    *,
    action: str,
    reason: str,
    details: dict[str, Any] | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> None:
    """Audit ``action`` (outcome denied) unless the same client, or resource when given, had the
    same one this minute."""
    who = resource_id or context.client_ip or "unknown"
    seen = await kernel.stores.kv.incr_window(
        f"threat:seen:{action}:{who}", window=AUDIT_WINDOW_SECONDS
    )
    if seen.count > 1:
        return
    await kernel.audit(
        event_from_context(
            context,
            action=action,
            outcome="denied",
            resource_type=resource_type,
            resource_id=resource_id,
            details={"reason": reason, "surface": context.surface, **(details or {})},
        )
    )
