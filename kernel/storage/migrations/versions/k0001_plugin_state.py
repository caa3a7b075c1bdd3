"""Kernel: persisted enabled/disabled state of every plugin.

Revision ID: k0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "k0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("kernel",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plugin_state",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("plugin_state")
