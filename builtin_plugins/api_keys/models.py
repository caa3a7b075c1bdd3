"""The ``api_keys`` table (created by this plugin's migrations)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)

__all__ = ["api_keys", "metadata"]

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("prefix", String(12), nullable=False, unique=True, index=True),
    Column("key_hash", String(64), nullable=False),
    Column(
        "owner_id",
        String(32),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(100), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("allowed_models", JSON, nullable=False),
    Column("allowed_ips", JSON, nullable=False),
    Column("allowed_chatbots", JSON, nullable=False),
    Column("allowed_collections", JSON, nullable=False, server_default="[]"),
    Column("required_region", String(16), nullable=True),
    Column("response_verification", String(16), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("is_active", Boolean, nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("rate_limit_per_minute", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
)
