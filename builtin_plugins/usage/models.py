"""The plugin's tables: usage records (append-only), price history and budgets."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

__all__ = ["metadata", "usage_budgets", "usage_prices", "usage_records"]

metadata = MetaData()
_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite auto-increments INTEGER only

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("request_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("day", String(10), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("user_id", String(32), nullable=True),
    Column("key_id", String(32), nullable=True),
    Column("chatbot_id", String(64), nullable=True),
    Column("plugin", String(64), nullable=True),
    Column("provider", String(64), nullable=True),
    Column("model", String(200), nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("total_tokens", BigInteger, nullable=False),
    Column("input_price", String(40), nullable=True),
    Column("output_price", String(40), nullable=True),
    Column("price_currency", String(3), nullable=True),
    Column("cost_micros", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("cost_estimated", Boolean, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("ttft_ms", Integer, nullable=True),
    Column("status", Integer, nullable=False),
    Column("error_code", String(64), nullable=True),
    Index("ix_usage_records_created_at", "created_at"),
    Index("ix_usage_records_user_time", "user_id", "created_at"),
    Index("ix_usage_records_key_time", "key_id", "created_at"),
    Index("ix_usage_records_request_id", "request_id"),
)

usage_prices = Table(
    "usage_prices",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("input_per_million", String(40), nullable=True),
    Column("output_per_million", String(40), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("source", String(16), nullable=False),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(32), nullable=True),
    Index("ix_usage_prices_model_time", "provider", "model", "effective_from"),
)

usage_budgets = Table(
    "usage_budgets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_type", String(16), nullable=False),
    Column("owner_id", String(32), nullable=False),
    Column("name", String(100), nullable=False),
    Column("limit_micros", BigInteger, nullable=False),
    Column("period", String(16), nullable=False),
    Column("warning_percent", Integer, nullable=True),
    Column("hard", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(32), nullable=True),
    Index("ix_usage_budgets_owner", "owner_type", "owner_id"),
)
