"""Reads of ``usage_records``: grouped aggregates with paging, top spenders, export batches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import ColumnElement, func, select

from builtin_plugins.usage.models import usage_records
from kernel.storage.sql import Database

__all__ = [
    "GROUPS",
    "Aggregate",
    "Group",
    "RecordFilter",
    "aggregate",
    "record_batches",
    "recorded_cost",
    "top",
]

Group = Literal["user", "key", "provider", "model", "day", "kind"]
GROUPS: dict[str, str] = {
    "user": "user_id",
    "key": "key_id",
    "provider": "provider",
    "model": "model",
    "day": "day",
    "kind": "kind",
}
_c = usage_records.c


class RecordFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which records a query covers: ``start`` inclusive, ``end`` exclusive, None = unbounded."""

    start: datetime | None = None
    end: datetime | None = None
    user_id: str | None = None
    key_id: str | None = None
    chatbot_id: str | None = None
    provider: str | None = None
    model: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.start is not None:
            where.append(_c.created_at >= self.start)
        if self.end is not None:
            where.append(_c.created_at < self.end)
        for name in ("user_id", "key_id", "chatbot_id", "provider", "model"):
            value = getattr(self, name)
            if value is not None:
                where.append(_c[name] == value)
        return where


class Aggregate(msgspec.Struct, frozen=True, kw_only=True):
    """One group: its keys (by group name) and the sums over its records."""

    group: dict[str, str | None]
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_micros: int


def _sums() -> list[Any]:
    return [
        func.count().label("requests"),
        func.coalesce(func.sum(_c.prompt_tokens), 0).label("prompt_tokens"),
        func.coalesce(func.sum(_c.completion_tokens), 0).label("completion_tokens"),
        func.coalesce(func.sum(_c.total_tokens), 0).label("total_tokens"),
        func.coalesce(func.sum(_c.cost_micros), 0).label("cost_micros"),
    ]


def _aggregate(row: Any, groups: Sequence[str]) -> Aggregate:
    data = row._mapping
    return Aggregate(
        group={name: data[GROUPS[name]] for name in groups},
        requests=int(data["requests"]),
        prompt_tokens=int(data["prompt_tokens"]),
        completion_tokens=int(data["completion_tokens"]),
        total_tokens=int(data["total_tokens"]),
        cost_micros=int(data["cost_micros"]),
    )


async def aggregate(
    db: Database, record_filter: RecordFilter, groups: Sequence[str], *, limit: int, offset: int
) -> tuple[list[Aggregate], int]:
    """Sums per distinct combination of ``groups`` (ordered by them), a page, and the count."""
    columns = [_c[GROUPS[name]] for name in groups]
    query = select(*columns, *_sums()).where(*record_filter.conditions())
    if columns:
        query = query.group_by(*columns).order_by(*columns)
    async with db.session() as session:
        total = (
            await session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = (await session.execute(query.limit(limit).offset(offset))).all()
    return [_aggregate(row, groups) for row in rows], int(total)


async def top(
    db: Database, record_filter: RecordFilter, by: Literal["user", "key"], *, limit: int
) -> list[Aggregate]:
    """The ``limit`` users or keys with the highest cost (then tokens) under ``record_filter``."""
    column = _c[GROUPS[by]]
    sums = _sums()
    query = (
        select(column, *sums)
        .where(*record_filter.conditions(), column.is_not(None))
        .group_by(column)
        .order_by(sums[4].desc(), sums[3].desc(), column)
        .limit(limit)
    )
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    return [_aggregate(row, [by]) for row in rows]


async def recorded_cost(db: Database, record_filter: RecordFilter) -> int:
    """The summed cost of the records under ``record_filter``."""
    query = select(func.coalesce(func.sum(_c.cost_micros), 0)).where(*record_filter.conditions())
    async with db.session() as session:
        return int((await session.execute(query)).scalar_one())


async def record_batches(
    db: Database, record_filter: RecordFilter, *, max_rows: int, batch_size: int = 1000
) -> AsyncIterator[list[dict[str, Any]]]:
    """Matching records oldest first in batches (one short transaction each), ``max_rows`` in
    all."""
    after = 0
    remaining = max_rows
    while remaining > 0:
        size = min(batch_size, remaining)
        query = (
            select(usage_records)
            .where(*record_filter.conditions(), _c.id > after)
            .order_by(_c.id)
            .limit(size)
        )
        async with db.session() as session:
            rows = [dict(row._mapping) for row in (await session.execute(query)).all()]
        if not rows:
            return
        yield rows
        remaining -= len(rows)
        if len(rows) < size:
            return
        after = int(rows[-1]["id"])
