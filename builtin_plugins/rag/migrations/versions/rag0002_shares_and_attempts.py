"""rag: collections shared with other users; a job's attempt number (cancel, reprocess).

Revision ID: rag0002
Revises: rag0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rag0002"
down_revision: str | None = "rag0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rag_collection_shares",
        sa.Column(
            "collection_id", sa.String(32), sa.ForeignKey("rag_collections.id"), nullable=False
        ),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("collection_id", "user_id"),
    )
    op.create_index("ix_rag_collection_shares_user", "rag_collection_shares", ["user_id"])
    op.add_column(
        "rag_jobs", sa.Column("attempt", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("rag_jobs") as batch:  # SQLite rebuilds the table
        batch.drop_column("attempt")
    op.drop_table("rag_collection_shares")
