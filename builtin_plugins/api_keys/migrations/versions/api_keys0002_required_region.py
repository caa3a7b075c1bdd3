"""api_keys: a key can require that its prompts stay in one provider region.

Revision ID: api_keys0002
Revises: api_keys0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "api_keys0002"
down_revision: str | None = "api_keys0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("required_region", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:  # SQLite rebuilds the table
        batch.drop_column("required_region")
