"""Which Alembic revisions a test database is at (production never asks: it only upgrades)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from kernel.storage.sql import Database

__all__ = ["current_heads"]


def _heads_sync(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def current_heads(db: Database) -> set[str]:
    """The revisions the database is at."""
    async with db.reachable(), db.engine.connect() as conn:
        return await conn.run_sync(_heads_sync)
