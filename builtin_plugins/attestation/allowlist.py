"""Trust rules admins add at run time (table ``attestation_trust``), read on every attestation.

Rules are appended or removed, never edited in place: each row keeps who added it and when, and
every addition and removal is audited by the route. Settings rules (``[[attestation.trust]]``)
stay in the config.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text, select
from sqlalchemy.engine import RowMapping

from builtin_plugins.attestation.policy import TrustRule
from kernel.storage.sql import Database

__all__ = ["AllowlistStore", "StoredRule", "attestation_trust"]

metadata = MetaData()

attestation_trust = Table(
    "attestation_trust",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(256), nullable=False),
    Column("rule", Text, nullable=False),
)


class StoredRule(msgspec.Struct, kw_only=True):
    """A rule added through the internal API."""

    id: int
    created_at: datetime
    added_by: str
    rule: TrustRule


class AllowlistStore:
    """Appends, lists and removes run-time trust rules."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, rule: TrustRule, *, added_by: str) -> StoredRule:
        """Append ``rule``; the stored row."""
        now = datetime.now(UTC)
        insert = (
            attestation_trust.insert()
            .values(
                created_at=now, added_by=added_by[:256], rule=msgspec.json.encode(rule).decode()
            )
            .returning(attestation_trust.c.id)
        )
        async with self._db.session() as session:
            key = (await session.execute(insert)).scalar_one()
        return StoredRule(
            id=int(key),
            created_at=now,
            added_by=added_by,
            rule=rule,
        )

    async def remove(self, rule_id: int) -> StoredRule | None:
        """Delete rule ``rule_id``; the row it was, or None if there is none."""
        table = attestation_trust
        delete = table.delete().where(table.c.id == rule_id).returning(*table.c)
        async with self._db.session() as session:
            row = (await session.execute(delete)).mappings().first()
        return None if row is None else _stored(row)

    async def all(self) -> list[StoredRule]:
        """Every stored rule, oldest first."""
        query = select(attestation_trust).order_by(attestation_trust.c.id)
        async with self._db.session() as session:
            rows = (await session.execute(query)).mappings().all()
        return [_stored(row) for row in rows]


def _stored(row: RowMapping) -> StoredRule:
    return StoredRule(
        id=row["id"],
        created_at=row["created_at"],
        added_by=row["added_by"],
        rule=msgspec.json.decode(row["rule"], type=TrustRule),
    )
