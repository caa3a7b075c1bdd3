"""SQL access for collections, documents, ingest jobs and encrypted chunks.

Rows leave this module as frozen structs; ownership is decided by the callers
(:mod:`builtin_plugins.rag.access`), never here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import delete, func, insert, or_, select, update

from builtin_plugins.rag.models import (
    rag_chunks,
    rag_collection_shares,
    rag_collections,
    rag_documents,
    rag_jobs,
)
from kernel.storage.sql import Database

__all__ = [
    "ACTIVE",
    "CANCELLABLE",
    "ChunkRow",
    "CollectionRow",
    "DocumentRow",
    "JobState",
    "advance_job",
    "cancel_job",
    "claim_job",
    "clear_chunks",
    "collection_stats",
    "delete_collection_row",
    "delete_document_rows",
    "get_collection",
    "get_document",
    "insert_collection",
    "insert_document",
    "job_attempt",
    "list_collections",
    "list_documents",
    "load_chunks",
    "new_id",
    "queued_documents",
    "replace_chunks",
    "requeue_interrupted",
    "set_job",
    "update_collection",
]

JobState = Literal[
    "queued", "extracting", "chunking", "embedding", "indexed", "failed", "cancelled"
]
ACTIVE: tuple[JobState, ...] = ("extracting", "chunking", "embedding")
CANCELLABLE: tuple[JobState, ...] = ("queued", *ACTIVE)


def new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class CollectionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    owner_id: str
    name: str
    description: str
    embedding_kind: str
    embedding_model: str
    dimensions: int
    chunk_size: int
    chunk_overlap: int
    created_at: datetime
    updated_at: datetime


class DocumentRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    collection_id: str
    owner_id: str
    name: str
    content_type: str
    size: int
    file_id: str
    chunk_count: int
    created_at: datetime
    job_id: str
    state: str
    progress: int
    error: str | None


class ChunkRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    document_id: str
    collection_id: str
    position: int
    page: int | None
    nonce: bytes
    ciphertext: bytes


def _collection(row: Any) -> CollectionRow:
    return CollectionRow(**dict(row._mapping))


_DOCUMENT_COLUMNS = [
    *rag_documents.c,
    rag_jobs.c.id.label("job_id"),
    rag_jobs.c.state,
    rag_jobs.c.progress,
    rag_jobs.c.error,
]


def _documents() -> Any:
    return select(*_DOCUMENT_COLUMNS).join(rag_jobs, rag_jobs.c.document_id == rag_documents.c.id)


async def insert_collection(db: Database, **values: Any) -> CollectionRow:
    now = _now()
    row = {"id": new_id(), "created_at": now, "updated_at": now, **values}
    async with db.session() as session:
        await session.execute(insert(rag_collections).values(**row))
    return CollectionRow(**row)


async def get_collection(db: Database, collection_id: str) -> CollectionRow | None:
    async with db.session() as session:
        found = await session.execute(
            select(rag_collections).where(rag_collections.c.id == collection_id)
        )
        row = found.first()
    return None if row is None else _collection(row)


async def list_collections(
    db: Database, *, owner_id: str | None, limit: int, offset: int, shared: bool = False
) -> tuple[list[CollectionRow], int]:
    """Newest first; every owner's when ``owner_id`` is None; with ``shared``, also those
    shared with the user ``owner_id``."""
    query = select(rag_collections)
    counted = select(func.count()).select_from(rag_collections)
    if owner_id is not None:
        mine: Any = rag_collections.c.owner_id == owner_id
        if shared:
            with_me = select(rag_collection_shares.c.collection_id).where(
                rag_collection_shares.c.user_id == owner_id
            )
            mine = or_(mine, rag_collections.c.id.in_(with_me))
        query = query.where(mine)
        counted = counted.where(mine)
    query = query.order_by(rag_collections.c.created_at.desc(), rag_collections.c.id)
    async with db.session() as session:
        rows = (await session.execute(query.limit(limit).offset(offset))).all()
        total = (await session.execute(counted)).scalar_one()
    return [_collection(row) for row in rows], int(total)


async def update_collection(db: Database, collection_id: str, **values: Any) -> None:
    async with db.session() as session:
        await session.execute(
            update(rag_collections)
            .where(rag_collections.c.id == collection_id)
            .values(updated_at=_now(), **values)
        )


async def collection_stats(db: Database, collection_id: str) -> tuple[int, int]:
    """(documents, chunks) of a collection."""
    query = select(func.count(), func.coalesce(func.sum(rag_documents.c.chunk_count), 0)).where(
        rag_documents.c.collection_id == collection_id
    )
    async with db.session() as session:
        documents, chunks = (await session.execute(query)).one()
    return int(documents), int(chunks)


async def insert_document(db: Database, **values: Any) -> DocumentRow:
    """A document and its job, queued."""
    now = _now()
    document = {"id": new_id(), "chunk_count": 0, "created_at": now, **values}
    job = {"id": new_id(), "document_id": document["id"], "state": "queued", "progress": 0}
    async with db.session() as session:
        await session.execute(insert(rag_documents).values(**document))
        await session.execute(insert(rag_jobs).values(created_at=now, updated_at=now, **job))
    return DocumentRow(**document, job_id=job["id"], state="queued", progress=0, error=None)


async def get_document(db: Database, document_id: str) -> DocumentRow | None:
    async with db.session() as session:
        found = await session.execute(_documents().where(rag_documents.c.id == document_id))
        row = found.first()
    return None if row is None else DocumentRow(**dict(row._mapping))


async def list_documents(
    db: Database, collection_id: str, *, limit: int | None = None, offset: int = 0
) -> tuple[list[DocumentRow], int]:
    query = (
        _documents()
        .where(rag_documents.c.collection_id == collection_id)
        .order_by(rag_documents.c.created_at, rag_documents.c.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    counted = select(func.count()).where(rag_documents.c.collection_id == collection_id)
    async with db.session() as session:
        rows = (await session.execute(query)).all()
        total = (await session.execute(counted)).scalar_one()
    return [DocumentRow(**dict(row._mapping)) for row in rows], int(total)


async def claim_job(db: Database, document_id: str) -> int | None:
    """Move a queued job to ``extracting`` and return its new attempt number; None when another
    worker (or replica) has it, or it is no longer queued."""
    async with db.session() as session:
        result = await session.execute(
            update(rag_jobs)
            .where(rag_jobs.c.document_id == document_id, rag_jobs.c.state == "queued")
            .values(
                state="extracting",
                progress=0,
                error=None,
                attempt=rag_jobs.c.attempt + 1,
                updated_at=_now(),
            )
        )
        if not getattr(result, "rowcount", 0):
            return None
        found = await session.execute(
            select(rag_jobs.c.attempt).where(rag_jobs.c.document_id == document_id)
        )
    return int(found.scalar_one())


async def advance_job(
    db: Database,
    document_id: str,
    attempt: int,
    state: JobState,
    *,
    progress: int,
    error: str | None = None,
    chunk_count: int | None = None,
) -> bool:
    """Record a running attempt's step; False (nothing written) when that attempt is no longer
    the job's running one — it was cancelled, reprocessed, or the document deleted."""
    async with db.session() as session:
        result = await session.execute(
            update(rag_jobs)
            .where(
                rag_jobs.c.document_id == document_id,
                rag_jobs.c.attempt == attempt,
                rag_jobs.c.state.in_(ACTIVE),
            )
            .values(state=state, progress=progress, error=error, updated_at=_now())
        )
        if not getattr(result, "rowcount", 0):
            return False
        if chunk_count is not None:
            await session.execute(
                update(rag_documents)
                .where(rag_documents.c.id == document_id)
                .values(chunk_count=chunk_count)
            )
    return True


async def cancel_job(db: Database, document_id: str) -> bool:
    """Mark a queued or running job ``cancelled``; False when it already ended."""
    async with db.session() as session:
        result = await session.execute(
            update(rag_jobs)
            .where(rag_jobs.c.document_id == document_id, rag_jobs.c.state.in_(CANCELLABLE))
            .values(state="cancelled", progress=0, error=None, updated_at=_now())
        )
    return bool(getattr(result, "rowcount", 0))


async def job_attempt(db: Database, document_id: str) -> tuple[str, int] | None:
    """(state, attempt) of the document's job; None once the document is gone."""
    async with db.session() as session:
        found = await session.execute(
            select(rag_jobs.c.state, rag_jobs.c.attempt).where(
                rag_jobs.c.document_id == document_id
            )
        )
        row = found.first()
    return None if row is None else (str(row.state), int(row.attempt))


async def clear_chunks(db: Database, document_id: str) -> None:
    """Remove the document's chunk rows (its vectors are the caller's to remove)."""
    async with db.session() as session:
        await session.execute(delete(rag_chunks).where(rag_chunks.c.document_id == document_id))
        await session.execute(
            update(rag_documents).where(rag_documents.c.id == document_id).values(chunk_count=0)
        )


async def set_job(
    db: Database,
    document_id: str,
    state: JobState,
    *,
    progress: int,
    error: str | None = None,
    chunk_count: int | None = None,
) -> None:
    async with db.session() as session:
        await session.execute(
            update(rag_jobs)
            .where(rag_jobs.c.document_id == document_id)
            .values(state=state, progress=progress, error=error, updated_at=_now())
        )
        if chunk_count is not None:
            await session.execute(
                update(rag_documents)
                .where(rag_documents.c.id == document_id)
                .values(chunk_count=chunk_count)
            )


async def requeue_interrupted(db: Database) -> None:
    """Jobs a stopped process left mid-way start again from the beginning."""
    async with db.session() as session:
        await session.execute(
            update(rag_jobs)
            .where(rag_jobs.c.state.in_(ACTIVE))
            .values(state="queued", progress=0, updated_at=_now())
        )


async def queued_documents(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(
            select(rag_jobs.c.document_id)
            .where(rag_jobs.c.state == "queued")
            .order_by(rag_jobs.c.created_at)
        )
    return [str(value) for value in rows.scalars()]


async def replace_chunks(db: Database, document_id: str, rows: Sequence[dict[str, Any]]) -> None:
    async with db.session() as session:
        await session.execute(delete(rag_chunks).where(rag_chunks.c.document_id == document_id))
        if rows:
            await session.execute(insert(rag_chunks), list(rows))


async def load_chunks(db: Database, chunk_ids: Sequence[str]) -> dict[str, ChunkRow]:
    if not chunk_ids:
        return {}
    async with db.session() as session:
        rows = await session.execute(select(rag_chunks).where(rag_chunks.c.id.in_(chunk_ids)))
    return {row.id: ChunkRow(**dict(row._mapping)) for row in rows}


async def delete_document_rows(db: Database, document_ids: Sequence[str]) -> None:
    """Chunks, jobs and documents of ``document_ids``."""
    if not document_ids:
        return
    async with db.session() as session:
        await session.execute(delete(rag_chunks).where(rag_chunks.c.document_id.in_(document_ids)))
        await session.execute(delete(rag_jobs).where(rag_jobs.c.document_id.in_(document_ids)))
        await session.execute(delete(rag_documents).where(rag_documents.c.id.in_(document_ids)))


async def delete_collection_row(db: Database, collection_id: str) -> None:
    """The collection and its shares."""
    async with db.session() as session:
        await session.execute(
            delete(rag_collection_shares).where(
                rag_collection_shares.c.collection_id == collection_id
            )
        )
        await session.execute(delete(rag_collections).where(rag_collections.c.id == collection_id))
