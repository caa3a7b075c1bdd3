"""usage: usage_records, usage_prices, usage_budgets.

Revision ID: usage0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "usage0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("usage",)
depends_on: Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("chatbot_id", sa.String(64), nullable=True),
        sa.Column("plugin", sa.String(64), nullable=True),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("input_price", sa.String(40), nullable=True),
        sa.Column("output_price", sa.String(40), nullable=True),
        sa.Column("price_currency", sa.String(3), nullable=True),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("cost_estimated", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
    )
    op.create_index("ix_usage_records_created_at", "usage_records", ["created_at"])
    op.create_index("ix_usage_records_user_time", "usage_records", ["user_id", "created_at"])
    op.create_index("ix_usage_records_key_time", "usage_records", ["key_id", "created_at"])
    op.create_index("ix_usage_records_request_id", "usage_records", ["request_id"])
    op.create_table(
        "usage_prices",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("input_per_million", sa.String(40), nullable=True),
        sa.Column("output_per_million", sa.String(40), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
    )
    op.create_index(
        "ix_usage_prices_model_time", "usage_prices", ["provider", "model", "effective_from"]
    )
    op.create_table(
        "usage_budgets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_type", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("limit_micros", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("warning_percent", sa.Integer(), nullable=True),
        sa.Column("hard", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
    )
    op.create_index("ix_usage_budgets_owner", "usage_budgets", ["owner_type", "owner_id"])


def downgrade() -> None:
    op.drop_index("ix_usage_budgets_owner", table_name="usage_budgets")
    op.drop_table("usage_budgets")
    op.drop_index("ix_usage_prices_model_time", table_name="usage_prices")
    op.drop_table("usage_prices")
    for name in ("request_id", "key_time", "user_time", "created_at"):
        op.drop_index(f"ix_usage_records_{name}", table_name="usage_records")
    op.drop_table("usage_records")
