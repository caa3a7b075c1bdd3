"""Persisted plugin state: enabled flags (``plugin_state``) and runtime settings overrides
(``settings_overrides``), both written by admins and re-read by every replica."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.schema import Table as TableType

from kernel.storage.sql import Database

__all__ = ["load_overrides", "load_states", "save_override", "save_state"]

_metadata = MetaData()
plugin_state = Table(
    "plugin_state",
    _metadata,
    Column("name", String(100), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
settings_overrides = Table(
    "settings_overrides",
    _metadata,
    Column("section", String(100), primary_key=True),
    Column("values", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


async def _upsert(db: Database, table: TableType, key: str, values: dict[str, Any]) -> None:
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    row = {**values, "updated_at": datetime.now(UTC)}
    stmt = insert(table).values(**{key: row.pop(key)}, **row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[key]], set_={name: stmt.excluded[name] for name in row}
    )
    async with db.session() as session:
        await session.execute(stmt)


async def load_states(db: Database) -> dict[str, bool]:
    """Plugin name → enabled, for every plugin whose state was ever saved."""
    async with db.session() as session:
        rows = await session.execute(select(plugin_state.c.name, plugin_state.c.enabled))
        return {name: bool(enabled) for name, enabled in rows}


async def save_state(db: Database, name: str, *, enabled: bool) -> None:
    """Insert or update one plugin's state."""
    await _upsert(db, plugin_state, "name", {"name": name, "enabled": enabled})


async def load_overrides(db: Database) -> dict[str, dict[str, Any]]:
    """Section name → values set at runtime (merged over file and environment settings)."""
    async with db.session() as session:
        rows = await session.execute(
            select(settings_overrides.c.section, settings_overrides.c["values"])
        )
        return {section: dict(values) for section, values in rows}


async def save_override(db: Database, section: str, values: dict[str, Any]) -> None:
    """Replace the runtime overrides of one section."""
    await _upsert(db, settings_overrides, "section", {"section": section, "values": values})
