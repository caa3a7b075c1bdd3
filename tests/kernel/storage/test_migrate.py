"""Migrations of the kernel and of plugins' own version folders, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from support.migrations import current_heads

from kernel.errors import StoreUnavailableError
from kernel.storage import migrate
from kernel.storage.sql import Database, open_database

PLUGIN_REVISION = '''
"""notes plugin: its own table."""
import sqlalchemy as sa
from alembic import op

revision = "notes0001"
down_revision = None
branch_labels = ("notes",)
depends_on = "k0001"


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("notes")
'''


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


@pytest.fixture
async def db(database_url: str) -> Database:
    database = open_database(make_url(database_url))
    yield database  # type: ignore[misc]
    await database.close()


async def test_kernel_migrations_apply_once(db: Database) -> None:
    await migrate.upgrade(db)
    assert {"plugin_state", "alembic_version"} <= await _tables(db)
    assert await current_heads(db) == {"k0002"}
    await migrate.upgrade(db)
    assert await current_heads(db) == {"k0002"}


async def test_plugin_version_folder_is_applied(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "notes_versions"
    folder.mkdir()
    (folder / "notes0001_create.py").write_text(PLUGIN_REVISION)
    await migrate.upgrade(db, [str(folder)])
    assert "notes" in await _tables(db)
    assert "notes0001" in await current_heads(db)


async def test_replicas_migrating_together_do_not_collide(postgres_url: str) -> None:
    databases = [open_database(make_url(postgres_url)) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate.upgrade(d) for d in databases))
        assert await current_heads(databases[0]) == {"k0002"}
    finally:
        for database in databases:
            await database.close()


async def test_failed_transaction_leaves_nothing(db: Database) -> None:
    await migrate.upgrade(db)

    async def insert_then_fail() -> None:
        async with db.session() as session:
            await session.execute(
                text("INSERT INTO plugin_state VALUES ('x', true, CURRENT_TIMESTAMP)")
            )
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with db.session() as session:
        count = (await session.execute(text("SELECT COUNT(*) FROM plugin_state"))).scalar()
    assert count == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_database_is_a_store_error() -> None:
    url = make_url(f"postgresql+asyncpg://u:hunter2@127.0.0.1:{_closed_port()}/x")
    database = open_database(url)
    try:
        with pytest.raises(StoreUnavailableError) as err:
            await migrate.upgrade(database)
        assert err.value.store == "sql"
        assert "hunter2" not in str(err.value)
        with pytest.raises(StoreUnavailableError):
            await database.ping()
    finally:
        await database.close()
