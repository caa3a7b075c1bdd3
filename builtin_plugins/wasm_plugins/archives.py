"""Uploaded plugin archives in SQL (``wasm_plugin_archives``), the copy every replica installs
from: the zip exactly as uploaded and its sha256, checked again before each install."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from kernel.errors import ConflictError
from kernel.storage.sql import Database

__all__ = [
    "StoredArchive",
    "archive_digests",
    "delete_archive",
    "load_archive",
    "save_archive",
    "sha256_of",
]

_metadata = MetaData()
wasm_plugin_archives = Table(
    "wasm_plugin_archives",
    _metadata,
    Column("name", String(100), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("archive", LargeBinary, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class StoredArchive:
    """One stored archive: the bytes and the sha256 recorded when it was uploaded."""

    name: str
    sha256: str
    archive: bytes

    @property
    def intact(self) -> bool:
        """Whether the bytes still hash to the recorded sha256."""
        return sha256_of(self.archive) == self.sha256


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def save_archive(db: Database, name: str, archive: bytes) -> str:
    """Store a new archive under ``name``; ConflictError if one is stored already (on any
    replica). Returns its sha256."""
    digest = sha256_of(archive)
    values = {
        "name": name,
        "sha256": digest,
        "size": len(archive),
        "archive": archive,
        "uploaded_at": datetime.now(UTC),
    }
    try:
        async with db.session() as session:
            await session.execute(wasm_plugin_archives.insert().values(**values))
    except IntegrityError:
        raise ConflictError(f"A plugin named '{name}' is already installed.") from None
    return digest


async def archive_digests(db: Database) -> dict[str, str]:
    """Plugin name → sha256 of every stored archive (the bytes are not read)."""
    columns = (wasm_plugin_archives.c.name, wasm_plugin_archives.c.sha256)
    async with db.session() as session:
        rows = await session.execute(select(*columns))
        return {name: sha256 for name, sha256 in rows}


async def load_archive(db: Database, name: str) -> StoredArchive | None:
    """The stored archive of ``name``, or None when it was removed meanwhile."""
    table = wasm_plugin_archives
    async with db.session() as session:
        row = (
            await session.execute(
                select(table.c.sha256, table.c.archive).where(table.c.name == name)
            )
        ).first()
    return None if row is None else StoredArchive(name, row.sha256, bytes(row.archive))


async def delete_archive(db: Database, name: str) -> bool:
    """Remove the archive of ``name``; whether one was stored."""
    table = wasm_plugin_archives
    async with db.session() as session:
        result = await session.execute(table.delete().where(table.c.name == name))
    return bool(getattr(result, "rowcount", 0))
