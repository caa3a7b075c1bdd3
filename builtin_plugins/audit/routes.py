"""``/api-internal/v1/audit``: search and export the audit log (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from builtin_plugins.audit.export import chain, stream_csv, stream_json
from builtin_plugins.audit.filters import AuditFilter, parse_filter
from builtin_plugins.audit.store import AuditPage, AuditRecord, AuditStore
from kernel.audit import event_from_context
from kernel.errors import InvalidRequestError
from kernel.gate import request_context
from kernel.openapi import OPERATION_DOC, Body, OperationDoc
from kernel.roles import require_role
from kernel.runtime import Kernel
from kernel.streaming import BodyStream

__all__ = ["AUDIT_ROUTES", "DEFAULT_LIMIT", "MAX_EXPORT_ROWS", "MAX_LIMIT"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_EXPORT_ROWS = 100_000
MAX_OFFSET = 2**31 - 1
_MAX_CURSOR = 2**63 - 1
_ADMIN = {"enclava_role": "admin"}
_MEDIA_TYPES = {"csv": "text/csv", "json": "application/json"}  # Litestar adds the charset
_EXPORT_DOC = OperationDoc(
    responses={
        200: Body(
            description="An attachment: CSV with a header row (`format=csv`) or a JSON array.",
            content={"text/csv": {"type": "string"}, "application/json": list[AuditRecord]},
        )
    }
)


def provide_filter(
    action: FromQuery[str | None] = None,
    outcome: FromQuery[str | None] = None,
    actor_id: FromQuery[str | None] = None,
    resource_type: FromQuery[str | None] = None,
    resource_id: FromQuery[str | None] = None,
    ip: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> AuditFilter:
    """The filter shared by search and export, from its query parameters."""
    return parse_filter(
        action=action,
        outcome=outcome,
        actor_id=actor_id,
        resource_type=resource_type,
        resource_id=resource_id,
        ip=ip,
        since=since,
        until=until,
    )


_FILTER = {"audit_filter": Provide(provide_filter, sync_to_thread=False)}


def _admin_store(request: Request[Any, Any, Any], kernel: Kernel) -> AuditStore:
    # The role check runs in auth's RoleCheck; this repeats it so a missing check fails closed.
    context = request_context(request.scope)
    require_role(context.principal if context else None, "admin")
    return AuditStore(kernel.stores.db)


def _cursor(cursor: str | None, offset: int) -> int | None:
    if cursor is None or cursor == "":
        return None
    # isdigit() alone takes "²"; the length check keeps int() off huge strings.
    digits = len(cursor) <= 19 and cursor.isascii() and cursor.isdigit()
    if not digits or int(cursor) > _MAX_CURSOR:
        raise InvalidRequestError("'cursor' is not a cursor this API returned.", param="cursor")
    if offset:
        raise InvalidRequestError("Use either 'cursor' or 'offset', not both.", param="offset")
    return int(cursor)


@get("/audit", opt=_ADMIN, dependencies=_FILTER)
async def search_audit(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    audit_filter: NamedDependency[AuditFilter],
    limit: FromQuery[int] = DEFAULT_LIMIT,
    offset: FromQuery[int] = 0,
    cursor: FromQuery[str | None] = None,
) -> AuditPage:
    """Audit events matching the filters, newest first, by ``offset`` or ``cursor``."""
    store = _admin_store(request, kernel)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"'limit' must be between 1 and {MAX_LIMIT}.", param="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidRequestError(f"'offset' must be between 0 and {MAX_OFFSET}.", param="offset")
    before_id = _cursor(cursor, offset)
    return await store.page(audit_filter, limit=limit, offset=offset, before_id=before_id)


@get("/audit/export", opt={**_ADMIN, OPERATION_DOC: _EXPORT_DOC}, dependencies=_FILTER)
async def export_audit(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    audit_filter: NamedDependency[AuditFilter],
    export_format: Annotated[str, QueryParameter(name="format")] = "csv",
) -> Stream:
    """Every matching event (at most 100,000, newest first) as a CSV or JSON attachment."""
    store = _admin_store(request, kernel)
    if export_format not in _MEDIA_TYPES:
        raise InvalidRequestError("'format' must be 'csv' or 'json'.", param="format")
    filters = {k: v for k, v in msgspec.to_builtins(audit_filter).items() if v is not None}
    await kernel.audit(
        event_from_context(
            request_context(request.scope),
            action="audit.export",
            outcome="success",
            resource_type="audit_log",
            details={"format": export_format, "filters": filters},
        )
    )
    batches = store.batches(audit_filter, max_rows=MAX_EXPORT_ROWS)
    first: list[AuditRecord] = await anext(batches, [])
    body = chain(first, batches)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return BodyStream(
        stream_csv(body) if export_format == "csv" else stream_json(body),
        media_type=_MEDIA_TYPES[export_format],
        headers={
            "content-disposition": f'attachment; filename="audit-{stamp}.{export_format}"',
            "cache-control": "no-store",
        },
    )


AUDIT_ROUTES = (search_audit, export_audit)
