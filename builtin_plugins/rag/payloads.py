"""Request and answer bodies of the RAG routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from builtin_plugins.rag.shares import ShareRow
from builtin_plugins.rag.store import CollectionRow, DocumentRow
from kernel.services import Passage, RetrievalMode

__all__ = [
    "CollectionPage",
    "CollectionView",
    "CreateCollection",
    "DocumentPage",
    "DocumentView",
    "FileError",
    "JobView",
    "SearchRequest",
    "SearchResults",
    "ShareList",
    "ShareRequest",
    "ShareView",
    "UpdateCollection",
    "UploadResult",
    "collection_view",
    "document_view",
    "share_view",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]


class CreateCollection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``embedding``: ``local`` (in process) or ``provider`` (``embedding_model`` through the
    gateway); default from ``[rag] default_embedding``. Chunk sizes are in tokens."""

    name: Name
    description: Description = ""
    embedding: Literal["local", "provider"] | None = None
    embedding_model: str | None = None
    chunk_size: Annotated[int, msgspec.Meta(ge=32, le=2048)] = 256
    chunk_overlap: Annotated[int, msgspec.Meta(ge=0, le=512)] = 32


class UpdateCollection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET


class CollectionView(msgspec.Struct, kw_only=True):
    """``access``: what the caller may do — ``owner``, ``admin``, ``editor`` or ``reader``
    (the last two through a share)."""

    id: str
    owner_id: str
    access: str
    name: str
    description: str
    embedding: str
    embedding_model: str
    chunk_size: int
    chunk_overlap: int
    document_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class CollectionPage(msgspec.Struct, kw_only=True):
    data: list[CollectionView]
    total: int
    limit: int
    offset: int


class JobView(msgspec.Struct, kw_only=True):
    """``state``: queued → extracting → chunking → embedding → indexed | failed; a queued or
    running job can be ``cancelled`` (no chunks kept; reprocess runs it again)."""

    id: str
    state: str
    progress: int
    error: str | None


class DocumentView(msgspec.Struct, kw_only=True):
    id: str
    collection_id: str
    name: str
    content_type: str
    size: int
    chunk_count: int
    created_at: datetime
    job: JobView


class DocumentPage(msgspec.Struct, kw_only=True):
    data: list[DocumentView]
    total: int
    limit: int
    offset: int


class FileError(msgspec.Struct, kw_only=True):
    """A file of an upload that was not taken, and why."""

    name: str
    code: str
    message: str


class UploadResult(msgspec.Struct, kw_only=True):
    """One document (and job) per file taken — a JSON Lines file gives one per line — and an
    error per file refused; the other files still go in."""

    documents: list[DocumentView]
    errors: list[FileError]


class SearchRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    query: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    top_k: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    score_threshold: float | None = None
    mode: RetrievalMode = "hybrid"
    document_id: str | None = None


class SearchResults(msgspec.Struct, kw_only=True):
    data: list[Passage]


class ShareRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``reader``: list, search, download; ``editor``: also upload, reprocess, cancel, delete
    documents."""

    role: Literal["reader", "editor"] = "reader"


class ShareView(msgspec.Struct, kw_only=True):
    collection_id: str
    user_id: str
    email: str | None
    role: str
    created_by: str | None
    created_at: datetime


class ShareList(msgspec.Struct, kw_only=True):
    data: list[ShareView]


def _utc(stamp: datetime) -> datetime:
    """SQLite hands back naive datetimes; every answer states UTC (``…Z``) all the same."""
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def collection_view(
    row: CollectionRow, *, access: str, documents: int, chunks: int
) -> CollectionView:
    return CollectionView(
        id=row.id,
        owner_id=row.owner_id,
        access=access,
        name=row.name,
        description=row.description,
        embedding=row.embedding_kind,
        embedding_model=row.embedding_model,
        chunk_size=row.chunk_size,
        chunk_overlap=row.chunk_overlap,
        document_count=documents,
        chunk_count=chunks,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def share_view(row: ShareRow, email: str | None) -> ShareView:
    return ShareView(
        collection_id=row.collection_id,
        user_id=row.user_id,
        email=email,
        role=row.role,
        created_by=row.created_by,
        created_at=_utc(row.created_at),
    )


def document_view(row: DocumentRow) -> DocumentView:
    return DocumentView(
        id=row.id,
        collection_id=row.collection_id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        chunk_count=row.chunk_count,
        created_at=_utc(row.created_at),
        job=JobView(id=row.job_id, state=row.state, progress=row.progress, error=row.error),
    )
