"""wasm_plugins: uploaded plugin archives, installed by every replica.

Revision ID: wasm_plugins0001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "wasm_plugins0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("wasm_plugins",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wasm_plugin_archives",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wasm_plugin_archives")
