"""api_keys: a key can require that its answers are verified per response (stricter only).

Revision ID: api_keys0003
Revises: api_keys0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "api_keys0003"
down_revision: str | None = "api_keys0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("response_verification", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:  # SQLite rebuilds the table
        batch.drop_column("response_verification")
