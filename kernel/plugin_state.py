"""Persisted enabled/disabled state of plugins (table ``plugin_state``, kernel migration k0001)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from kernel.storage.sql import Database

__all__ = ["load_states", "save_state"]

_metadata = MetaData()
plugin_state = Table(
    "plugin_state",
    _metadata,
    Column("name", String(100), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


async def load_states(db: Database) -> dict[str, bool]:
    """Plugin name → enabled, for every plugin whose state was ever saved."""
    async with db.session() as session:
        rows = await session.execute(select(plugin_state.c.name, plugin_state.c.enabled))
        return {name: bool(enabled) for name, enabled in rows}


async def save_state(db: Database, name: str, *, enabled: bool) -> None:
    """Insert or update one plugin's state."""
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    values = {"name": name, "enabled": enabled, "updated_at": datetime.now(UTC)}
    stmt = insert(plugin_state).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[plugin_state.c.name],
        set_={"enabled": stmt.excluded.enabled, "updated_at": stmt.excluded.updated_at},
    )
    async with db.session() as session:
        await session.execute(stmt)
