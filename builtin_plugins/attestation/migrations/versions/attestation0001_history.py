"""attestation: attestation_history.

Revision ID: attestation0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "attestation0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("attestation",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attestation_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("tcb_status", sa.String(64), nullable=False),
        sa.Column("gpu_checked", sa.Boolean(), nullable=False),
        sa.Column("signing_key", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(512), nullable=False),
    )
    op.create_index("ix_attestation_history_checked_at", "attestation_history", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_attestation_history_checked_at", table_name="attestation_history")
    op.drop_table("attestation_history")
