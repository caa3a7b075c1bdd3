"""attestation: attestation_trust (run-time trust rules) and measured values in the history.

Revision ID: attestation0002
Revises: attestation0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "attestation0002"
down_revision: str | None = "attestation0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attestation_trust",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(256), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("attestation_history") as batch:
        batch.add_column(sa.Column("measurements", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("attestation_history") as batch:
        batch.drop_column("measurements")
    op.drop_table("attestation_trust")
