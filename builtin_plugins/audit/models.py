"""The ``audit_events`` table (created by the audit plugin's migrations)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, MetaData, String, Table

__all__ = ["FIELD_LENGTHS", "audit_events", "metadata"]

metadata = MetaData()

FIELD_LENGTHS: dict[str, int] = {
    "action": 100,
    "outcome": 16,
    "actor_type": 32,
    "actor_id": 128,
    "resource_type": 64,
    "resource_id": 256,
    "ip": 64,
    "request_id": 128,
}
"""Maximum length of each string column; longer values are truncated before insert."""

audit_events = Table(
    "audit_events",
    metadata,
    # SQLite only auto-increments an INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("action", String(FIELD_LENGTHS["action"]), nullable=False, index=True),
    Column("outcome", String(FIELD_LENGTHS["outcome"]), nullable=False),
    Column("actor_type", String(FIELD_LENGTHS["actor_type"]), nullable=False),
    Column("actor_id", String(FIELD_LENGTHS["actor_id"]), nullable=True, index=True),
    Column("resource_type", String(FIELD_LENGTHS["resource_type"]), nullable=True),
    Column("resource_id", String(FIELD_LENGTHS["resource_id"]), nullable=True),
    Column("ip", String(FIELD_LENGTHS["ip"]), nullable=True),
    Column("request_id", String(FIELD_LENGTHS["request_id"]), nullable=True),
    Column("details", JSON, nullable=False),
)
