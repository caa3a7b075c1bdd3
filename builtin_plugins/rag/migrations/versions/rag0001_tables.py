"""rag: collections, documents, ingest jobs and encrypted chunks.

Revision ID: rag0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rag0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("rag",)
depends_on: Sequence[str] | None = None


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "rag_collections",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("embedding_kind", sa.String(16), nullable=False),
        sa.Column("embedding_model", sa.String(200), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunk_overlap", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_rag_collections_owner", "rag_collections", ["owner_id"])
    op.create_table(
        "rag_documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "collection_id", sa.String(32), sa.ForeignKey("rag_collections.id"), nullable=False
        ),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_rag_documents_collection", "rag_documents", ["collection_id"])
    op.create_table(
        "rag_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("document_id", sa.String(32), sa.ForeignKey("rag_documents.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_rag_jobs_document", "rag_jobs", ["document_id"], unique=True)
    op.create_index("ix_rag_jobs_state", "rag_jobs", ["state"])
    op.create_table(
        "rag_chunks",
        sa.Column("id", sa.String(48), primary_key=True),
        sa.Column("document_id", sa.String(32), sa.ForeignKey("rag_documents.id"), nullable=False),
        sa.Column("collection_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_rag_chunks_document", "rag_chunks", ["document_id", "position"])


def downgrade() -> None:
    op.drop_table("rag_chunks")
    op.drop_table("rag_jobs")
    op.drop_table("rag_documents")
    op.drop_table("rag_collections")
