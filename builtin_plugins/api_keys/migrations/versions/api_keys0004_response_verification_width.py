"""api_keys: ``response_verification`` holds ``strict_trailer`` (14 characters).

Revision ID: api_keys0004
Revises: api_keys0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "api_keys0004"
down_revision: str | None = "api_keys0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:  # SQLite rebuilds the table
        batch.alter_column("response_verification", type_=sa.String(16), existing_type=sa.String(8))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("response_verification", type_=sa.String(8), existing_type=sa.String(16))
