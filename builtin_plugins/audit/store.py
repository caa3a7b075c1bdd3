"""The only code that reads or writes ``audit_events``: the durable sink and the queries."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import SQLAlchemyError

from builtin_plugins.audit.filters import AuditFilter, conditions
from builtin_plugins.audit.models import audit_events
from builtin_plugins.audit.sanitise import sanitise_event
from kernel.errors import InternalError
from kernel.storage.sql import Database
from kernel.types import AuditEvent

__all__ = ["AuditPage", "AuditRecord", "AuditStore", "SqlAuditSink"]

log = logging.getLogger(__name__)


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stored audit event as the API shows it."""

    id: int
    occurred_at: datetime
    action: str
    outcome: str
    actor_type: str
    actor_id: str | None
    resource_type: str | None
    resource_id: str | None
    ip: str | None
    request_id: str | None
    details: dict[str, Any]


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of events, newest first; ``next_cursor`` continues after the last one."""

    data: list[AuditRecord]
    total: int
    limit: int
    offset: int
    next_cursor: str | None


def _record(row: Any) -> AuditRecord:
    data = dict(row._mapping)
    occurred = data["occurred_at"]
    if occurred.tzinfo is None:
        data["occurred_at"] = occurred.replace(tzinfo=UTC)  # SQLite drops the zone
    if not isinstance(data["details"], dict):
        data["details"] = {}
    return AuditRecord(**data)


class AuditStore:
    """Inserts and queries audit events through the SQL seam."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, event: AuditEvent) -> None:
        """Insert ``event`` (sanitised) and commit; StoreUnavailableError when SQL is down."""
        values = sanitise_event(event)
        values["occurred_at"] = datetime.now(UTC)
        try:
            async with self.db.session() as session:
                await session.execute(audit_events.insert().values(**values))
        except SQLAlchemyError as exc:
            log.error("audit event %s could not be stored: %s", event.action, type(exc).__name__)
            raise InternalError("The audit event could not be recorded.") from None

    async def page(
        self, audit_filter: AuditFilter, *, limit: int, offset: int, before_id: int | None
    ) -> AuditPage:
        """Matching events newest first, after ``offset`` rows or below id ``before_id``."""
        where = conditions(audit_filter)
        async with self.db.session() as session:
            total = (
                await session.execute(select(func.count()).select_from(audit_events).where(*where))
            ).scalar_one()
            query = self._select(where, before_id, limit + 1, offset)
            rows = (await session.execute(query)).all()
        records = [_record(row) for row in rows[:limit]]
        more = len(rows) > limit
        return AuditPage(
            data=records,
            total=int(total),
            limit=limit,
            offset=offset,
            next_cursor=str(records[-1].id) if more else None,
        )

    async def batches(
        self, audit_filter: AuditFilter, *, max_rows: int, batch_size: int = 1000
    ) -> AsyncIterator[list[AuditRecord]]:
        """Matching events newest first in batches (one short transaction each), at most
        ``max_rows`` in all."""
        where = conditions(audit_filter)
        before_id: int | None = None
        remaining = max_rows
        while remaining > 0:
            size = min(batch_size, remaining)
            async with self.db.session() as session:
                rows = (await session.execute(self._select(where, before_id, size, 0))).all()
            if not rows:
                return
            batch = [_record(row) for row in rows]
            yield batch
            remaining -= len(batch)
            if len(batch) < size:
                return
            before_id = batch[-1].id

    @staticmethod
    def _select(
        where: Sequence[ColumnElement[bool]], before_id: int | None, limit: int, offset: int
    ) -> Any:
        query = select(audit_events).where(*where)
        if before_id is not None:
            query = query.where(audit_events.c.id < before_id)
        return query.order_by(audit_events.c.id.desc()).limit(limit).offset(offset)


class SqlAuditSink:
    """The durable audit sink: ``write`` returns once the row is committed, or raises."""

    name = "audit.sql"

    def __init__(self, store: AuditStore) -> None:
        self.store = store

    async def write(self, event: AuditEvent) -> None:
        """Insert ``event``; StoreUnavailableError when SQL is down (the caller fails closed)."""
        await self.store.insert(event)
