"""api_keys: a key can be restricted to some RAG collections (empty: every collection).

Revision ID: api_keys0005
Revises: api_keys0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "api_keys0005"
down_revision: str | None = "api_keys0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("allowed_collections", sa.JSON(), nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:  # SQLite rebuilds the table
        batch.drop_column("allowed_collections")
