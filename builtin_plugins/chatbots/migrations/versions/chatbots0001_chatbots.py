"""chatbots: chatbots, their conversations and the sealed messages.

Revision ID: chatbots0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "chatbots0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("chatbots",)
depends_on: Sequence[str] | None = ("auth0001",)


def _owner() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "owner_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "chatbots",
        sa.Column("id", sa.String(32), primary_key=True),
        _owner(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("preset", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("top_p", sa.Float(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.Column("memory_turns", sa.Integer(), nullable=False),
        sa.Column("retrieval", sa.JSON(), nullable=True),
        sa.Column("preferred_providers", sa.JSON(), nullable=False),
        sa.Column("allowed_providers", sa.JSON(), nullable=False),
        sa.Column("required_region", sa.String(16), nullable=True),
        sa.Column("response_verification", sa.String(16), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chatbots_owner_id", "chatbots", ["owner_id"])
    op.create_table(
        "chatbot_conversations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "chatbot_id",
            sa.String(32),
            sa.ForeignKey("chatbots.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _owner(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chatbot_conversations_chatbot", "chatbot_conversations", ["chatbot_id"])
    op.create_index("ix_chatbot_conversations_owner", "chatbot_conversations", ["owner_id"])
    op.create_index("ix_chatbot_conversations_updated", "chatbot_conversations", ["updated_at"])
    op.create_table(
        "chatbot_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey("chatbot_conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_chatbot_messages_conversation", "chatbot_messages", ["conversation_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("chatbot_messages")
    op.drop_table("chatbot_conversations")
    op.drop_table("chatbots")
