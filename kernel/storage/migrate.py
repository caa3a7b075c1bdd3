"""Alembic migrations, run by ``enclava migrate`` and at every start.

The kernel and each plugin own an Alembic version folder (a branch labelled with their name);
``upgrade heads`` applies them all in dependency order. On PostgreSQL an advisory lock makes
replicas starting together migrate one at a time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from kernel.storage.sql import Database

__all__ = ["KERNEL_VERSIONS", "upgrade"]

KERNEL_VERSIONS = str(Path(__file__).resolve().parent / "migrations" / "versions")
_SCRIPT_LOCATION = str(Path(__file__).resolve().parent / "migrations")
_ADVISORY_LOCK_KEY = 0x656E636C  # "encl"


def _config(locations: Sequence[str]) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _SCRIPT_LOCATION)
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join([KERNEL_VERSIONS, *locations]))
    return cfg


def _upgrade_sync(connection: Connection, cfg: Config) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "heads")


async def upgrade(db: Database, locations: Sequence[str] = ()) -> None:
    """Apply every pending revision of the kernel and of ``locations`` (plugin folders)."""
    cfg = _config(locations)
    async with db.reachable(), db.engine.begin() as conn:
        if db.dialect == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        await conn.run_sync(_upgrade_sync, cfg)
