"""``Database.insert_rows`` on SQLite and PostgreSQL (there as one binary COPY): every value
comes back as given, a batch with one bad row stores none of it, and an unreachable database
fails closed as StoreUnavailableError."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from kernel.errors import StoreUnavailableError
from kernel.storage.sql import Database, open_database

metadata = MetaData()
rows_table = Table(
    "insert_rows_probe",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("name", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("small", Integer, nullable=True),
    Column("flag", Boolean, nullable=False),
    Column("note", String(40), nullable=True),
)
AT = datetime(2026, 12, 7, 6, 30, 15, 123456, tzinfo=UTC)


def _row(i: int, **changes: Any) -> dict[str, Any]:
    row = {
        "name": f"row-{i}-é",
        "at": AT + timedelta(seconds=i),
        "amount": 2**40 + i,
        "small": None if i % 2 else i,
        "flag": bool(i % 2),
        "note": None,
    }
    return row | changes


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(make_url(database_url))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.close()


async def _stored(db: Database) -> list[dict[str, Any]]:
    async with db.session() as session:
        result = await session.execute(select(rows_table).order_by(rows_table.c.id))
        return [dict(row._mapping) for row in result]


async def test_every_value_comes_back(db: Database) -> None:
    given = [_row(i) for i in range(300)]
    await db.insert_rows(rows_table, given)
    await db.insert_rows(rows_table, [])
    stored = await _stored(db)
    assert len(stored) == 300
    for row, expected in zip(stored, given, strict=True):
        at = row.pop("at")
        row.pop("id")
        assert row == {key: value for key, value in expected.items() if key != "at"}
        # SQLite keeps no zone: the stored instant is the UTC one given.
        assert (at if at.tzinfo else at.replace(tzinfo=UTC)) == expected["at"]


async def test_a_bad_row_stores_none_of_its_batch(db: Database) -> None:
    batch = [_row(0), _row(1), _row(2, name=None)]  # NOT NULL
    with pytest.raises((IntegrityError, asyncpg.NotNullViolationError)):  # SQLite, COPY
        await db.insert_rows(rows_table, batch)
    assert await _stored(db) == []
    await db.insert_rows(rows_table, batch[:2])
    assert len(await _stored(db)) == 2


async def test_an_unreachable_postgresql_fails_closed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = open_database(make_url(f"postgresql+asyncpg://postgres:hunter2@127.0.0.1:{port}/x"))
    try:
        with pytest.raises(StoreUnavailableError) as info:
            await db.insert_rows(rows_table, [_row(0)])
        assert "hunter2" not in str(info.value)
    finally:
        await db.close()


async def test_rows_of_other_columns_get_their_own_statement(db: Database) -> None:
    await db.insert_rows(rows_table, [_row(0)])
    fewer = {key: value for key, value in _row(1).items() if key not in ("small", "note")}
    await db.insert_rows(rows_table, [fewer])
    await db.insert_rows(rows_table, [_row(2)])
    stored = await _stored(db)
    assert [(row["name"], row["small"], row["note"]) for row in stored] == [
        ("row-0-é", 0, None),
        ("row-1-é", None, None),
        ("row-2-é", 2, None),
    ]
