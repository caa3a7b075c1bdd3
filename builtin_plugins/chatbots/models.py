"""The chatbots plugin's tables (created by its migrations).

``chatbot_messages`` holds no readable text: ``sealed`` is the AES-GCM ciphertext of the
message's content and sources (see :mod:`.cipher`).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["chatbots", "conversations", "messages", "metadata"]

metadata = MetaData()

chatbots = Table(
    "chatbots",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("preset", String(32), nullable=False),
    Column("model", String(200), nullable=False),
    Column("system_prompt", Text, nullable=False),
    Column("temperature", Float, nullable=True),
    Column("top_p", Float, nullable=True),
    Column("max_tokens", Integer, nullable=True),
    Column("memory_turns", Integer, nullable=False),
    Column("retrieval", JSON, nullable=True),
    Column("preferred_providers", JSON, nullable=False),
    Column("allowed_providers", JSON, nullable=False),
    Column("required_region", String(16), nullable=True),
    Column("response_verification", String(16), nullable=True),
    Column("is_active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

conversations = Table(
    "chatbot_conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("chatbot_id", String(32), ForeignKey("chatbots.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

messages = Table(
    "chatbot_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        String(32),
        ForeignKey("chatbot_conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(16), nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("tokens", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
