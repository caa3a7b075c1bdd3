"""Who is calling a usage route, and what they may see: their own, or everything for admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.di import Provide

from builtin_plugins.usage.runtime import UsageRuntime
from kernel.dependencies import NamedDependency
from kernel.errors import AuthenticationError, InvalidRequestError
from kernel.gate import request_context
from kernel.roles import is_admin
from kernel.runtime import Kernel
from kernel.types import Principal

__all__ = [
    "USAGE_DEPENDENCIES",
    "as_utc",
    "caller",
    "checked_range",
    "provide_usage",
    "visible_user",
]


def provide_usage(kernel: NamedDependency[Kernel]) -> UsageRuntime:
    """The kernel's usage runtime, injected into every handler of the plugin as ``usage``."""
    return UsageRuntime.of(kernel)


USAGE_DEPENDENCIES = {"usage": Provide(provide_usage, sync_to_thread=False)}


def caller(request: Request[Any, Any, Any]) -> Principal:
    context = request_context(request.scope)
    if context is None or context.principal is None:
        raise AuthenticationError("You didn't provide valid credentials.")
    return context.principal


def visible_user(principal: Principal, user_id: str | None) -> str | None:
    """The user filter to apply: any (admins) or the caller's own id (everyone else)."""
    return user_id if is_admin(principal) else principal.owner_id


def as_utc(value: datetime | None) -> datetime | None:
    """Naive times are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def checked_range(
    start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """``start`` and ``end`` as aware times; InvalidRequestError unless start < end."""
    start, end = as_utc(start), as_utc(end)
    if start is not None and end is not None and start >= end:
        raise InvalidRequestError("'start' must be before 'end'.", param="start")
    return start, end
