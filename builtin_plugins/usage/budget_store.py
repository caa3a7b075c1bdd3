"""The only code that reads or writes ``usage_budgets``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import ColumnElement, RowMapping, and_, func, or_, select

from builtin_plugins.usage.models import usage_budgets
from builtin_plugins.usage.periods import Period
from kernel.storage.sql import Database

__all__ = [
    "Budget",
    "OwnerType",
    "budgets_for",
    "delete_budget",
    "get_budget",
    "hard_budget_names",
    "insert_budget",
    "list_budgets",
    "update_budget",
]

OwnerType = Literal["user", "api_key", "plugin", "chatbot"]


class Budget(msgspec.Struct, frozen=True, kw_only=True):
    """A spending limit on a user (every key and session of theirs), one API key, one chatbot
    (every call through it, whoever makes it) or one sandboxed plugin."""

    id: str
    owner_type: OwnerType
    owner_id: str
    name: str
    limit_micros: int
    period: Period
    warning_percent: int | None
    hard: bool
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None


def _budget(data: Mapping[str, Any] | RowMapping) -> Budget:
    values = {str(key): value for key, value in data.items()}
    for column in ("created_at", "updated_at"):
        if values[column].tzinfo is None:
            values[column] = values[column].replace(tzinfo=UTC)
    return msgspec.convert(values, Budget)


def _owned_by(owners: Sequence[tuple[OwnerType, str]]) -> ColumnElement[bool]:
    return or_(
        *(
            and_(usage_budgets.c.owner_type == kind, usage_budgets.c.owner_id == ident)
            for kind, ident in owners
        )
    )


async def insert_budget(db: Database, fields: Mapping[str, Any], created_by: str | None) -> Budget:
    """Store a new budget from validated ``fields``."""
    now = datetime.now(UTC)
    values = {
        "id": uuid.uuid4().hex,
        **fields,
        "created_at": now,
        "updated_at": now,
        "created_by": created_by,
    }
    async with db.session() as session:
        await session.execute(usage_budgets.insert().values(**values))
    return _budget(values)


async def get_budget(db: Database, budget_id: str) -> Budget | None:
    async with db.session() as session:
        row = (
            await session.execute(select(usage_budgets).where(usage_budgets.c.id == budget_id))
        ).first()
    return None if row is None else _budget(row._mapping)


async def update_budget(db: Database, budget_id: str, changes: Mapping[str, Any]) -> Budget | None:
    """Apply validated ``changes``; None when the budget does not exist."""
    async with db.session() as session:
        await session.execute(
            usage_budgets.update()
            .where(usage_budgets.c.id == budget_id)
            .values(**changes, updated_at=datetime.now(UTC))
        )
    return await get_budget(db, budget_id)


async def delete_budget(db: Database, budget_id: str) -> None:
    async with db.session() as session:
        await session.execute(usage_budgets.delete().where(usage_budgets.c.id == budget_id))


async def budgets_for(db: Database, owners: Sequence[tuple[OwnerType, str]]) -> list[Budget]:
    """Every budget attached to one of ``owners``, oldest first."""
    if not owners:
        return []
    async with db.session() as session:
        rows = (
            await session.execute(
                select(usage_budgets).where(_owned_by(owners)).order_by(usage_budgets.c.created_at)
            )
        ).all()
    return [_budget(row._mapping) for row in rows]


async def list_budgets(
    db: Database, *, owners: Sequence[tuple[OwnerType, str]] | None, limit: int, offset: int
) -> tuple[list[Budget], int]:
    """A page of budgets (all when ``owners`` is None), newest first, and the total."""
    where: list[ColumnElement[bool]] = []
    if owners is not None:
        if not owners:
            return [], 0
        where.append(_owned_by(owners))
    async with db.session() as session:
        total = (
            await session.execute(select(func.count()).select_from(usage_budgets).where(*where))
        ).scalar_one()
        rows = (
            await session.execute(
                select(usage_budgets)
                .where(*where)
                .order_by(usage_budgets.c.created_at.desc(), usage_budgets.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
    return [_budget(row._mapping) for row in rows], int(total)


async def hard_budget_names(db: Database, *, limit: int) -> tuple[list[str], int]:
    """Names of up to ``limit`` hard budgets (oldest first) and how many there are."""
    hard = usage_budgets.c.hard.is_(True)
    async with db.session() as session:
        total = (
            await session.execute(select(func.count()).select_from(usage_budgets).where(hard))
        ).scalar_one()
        names = (
            await session.execute(
                select(usage_budgets.c.name)
                .where(hard)
                .order_by(usage_budgets.c.created_at, usage_budgets.c.id)
                .limit(limit)
            )
        ).scalars()
        return list(names), int(total)
