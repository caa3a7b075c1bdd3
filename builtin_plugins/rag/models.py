"""The plugin's tables: collections (owned, shared with other users), documents, their ingest
jobs, encrypted chunks."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

__all__ = [
    "metadata",
    "rag_chunks",
    "rag_collection_shares",
    "rag_collections",
    "rag_documents",
    "rag_jobs",
]

metadata = MetaData()

rag_collections = Table(
    "rag_collections",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("embedding_kind", String(16), nullable=False),
    Column("embedding_model", String(200), nullable=False),
    Column("dimensions", Integer, nullable=False),
    Column("chunk_size", Integer, nullable=False),
    Column("chunk_overlap", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_rag_collections_owner", "owner_id"),
)

rag_documents = Table(
    "rag_documents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("collection_id", String(32), ForeignKey("rag_collections.id"), nullable=False),
    Column("owner_id", String(32), nullable=False),
    Column("name", String(500), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("file_id", String(32), nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_rag_documents_collection", "collection_id"),
)

rag_jobs = Table(
    "rag_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("document_id", String(32), ForeignKey("rag_documents.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("progress", Integer, nullable=False),
    Column("error", Text, nullable=True),
    # Raised by every claim: a run whose attempt is no longer current stops (cancel, reprocess).
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_rag_jobs_document", "document_id", unique=True),
    Index("ix_rag_jobs_state", "state"),
)

rag_chunks = Table(
    "rag_chunks",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("document_id", String(32), ForeignKey("rag_documents.id"), nullable=False),
    Column("collection_id", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("page", Integer, nullable=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Index("ix_rag_chunks_document", "document_id", "position"),
)

rag_collection_shares = Table(
    "rag_collection_shares",
    metadata,
    Column("collection_id", String(32), ForeignKey("rag_collections.id"), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_by", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("collection_id", "user_id"),
    Index("ix_rag_collection_shares_user", "user_id"),
)
