"""One ingest job: extract → chunk → embed → store, with its state and progress in SQL.

The job is idempotent, so a restarted one simply runs again: it replaces the document's chunk
rows and points. Chunk rows (encrypted) are written before the points, so every search hit
finds its text. Any failure — unreadable file, embedding error, store down — marks the job
``failed`` with its reason; nothing is ever indexed with a substitute vector. Every stage and
batch is a step of the claimed attempt (:class:`~builtin_plugins.rag.jobs.JobRun`): a cancelled
job stops at its next step and removes what it wrote.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from builtin_plugins.rag.chunking import Chunk, Chunker
from builtin_plugins.rag.crypto import SealedText
from builtin_plugins.rag.embedding import (
    EmbeddingError,
    provider_embeddings,
    sparse_document,
)
from builtin_plugins.rag.extract import extract
from builtin_plugins.rag.jobs import JobCancelled, JobRun
from builtin_plugins.rag.sniff import CONTENT_TYPES, Kind
from builtin_plugins.rag.store import (
    CollectionRow,
    DocumentRow,
    claim_job,
    get_collection,
    get_document,
    replace_chunks,
    update_collection,
)
from kernel.errors import EnclavaError, NotFoundError
from kernel.services import ChatGateway
from kernel.storage.vectors import HybridPoint

if TYPE_CHECKING:
    from builtin_plugins.rag.runtime import RagRuntime

__all__ = ["embed_texts", "ingest", "point_filter"]

log = logging.getLogger(__name__)
_KINDS: dict[str, Kind] = {mime: kind for kind, mime in CONTENT_TYPES.items()}  # type: ignore[misc]
_UPSERT_BATCH = 256


def point_filter(document: DocumentRow) -> dict[str, str | int | bool]:
    return {"document_id": document.id}


async def embed_texts(
    runtime: RagRuntime, collection: CollectionRow, texts: list[str]
) -> list[list[float]]:
    """Dense vectors of ``texts`` with the collection's embedding model."""
    if collection.embedding_kind == "local":
        return await runtime.embedder.embed(texts)
    gateway = runtime.kernel.service(ChatGateway)
    return await provider_embeddings(
        gateway, owner_id=collection.owner_id, model=collection.embedding_model, texts=texts
    )


async def ingest(runtime: RagRuntime, document_id: str) -> None:
    """Run the job of ``document_id`` if it is still queued."""
    db = runtime.kernel.stores.db
    attempt = await claim_job(db, document_id)
    if attempt is None:
        return
    document = await get_document(db, document_id)
    collection = None if document is None else await get_collection(db, document.collection_id)
    if document is None or collection is None:
        return
    meter = runtime.kernel.components.meter
    run = JobRun(runtime, document_id, attempt)
    try:
        count = await _run(runtime, collection, document, run)
    except JobCancelled:
        if await run.stopped():
            meter.rag_ingest("cancelled")
        return
    except EnclavaError as exc:
        if await run.finish("failed", progress=0, error=exc.message):
            meter.rag_ingest("failed")
        return
    except Exception as exc:
        log.exception("rag ingest of document %s failed", document_id)
        if await run.finish("failed", progress=0, error=f"internal error: {exc}"[:300]):
            meter.rag_ingest("failed")
        return
    if not await run.finish("indexed", progress=100, chunks=count):
        if await run.stopped():  # cancelled after its last batch
            meter.rag_ingest("cancelled")
        return
    meter.rag_ingest("indexed")


async def _run(
    runtime: RagRuntime, collection: CollectionRow, document: DocumentRow, run: JobRun
) -> int:
    data = await runtime.kernel.stores.files.get(document.file_id, owner=document.owner_id)
    kind = _KINDS.get(document.content_type, "text")
    sections = await anyio.to_thread.run_sync(extract, kind, data)
    await run.step("chunking", 10)
    chunker = Chunker(
        runtime.tokenizer, size=collection.chunk_size, overlap=collection.chunk_overlap
    )
    chunks = await anyio.to_thread.run_sync(chunker.chunks, sections)
    await run.step("embedding", 20)
    dense: list[list[float]] = []
    step = 256
    for start in range(0, len(chunks), step):
        dense.extend(
            await embed_texts(runtime, collection, [c.text for c in chunks[start : start + step]])
        )
        done = min(len(chunks), start + step)
        await run.step("embedding", 20 + 70 * done // len(chunks))
    if len(dense) != len(chunks):
        raise EmbeddingError("the embedding model returned too few vectors")
    collection = await _ensure_vectors(runtime, collection, len(dense[0]) if dense else 0)
    await _store(runtime, collection, document, chunks, dense, run)
    return len(chunks)


async def _ensure_vectors(
    runtime: RagRuntime, collection: CollectionRow, dimensions: int
) -> CollectionRow:
    """Create the collection's vector store on its first vectors (their size fixes it)."""
    from builtin_plugins.rag.runtime import vector_collection

    if dimensions == 0:
        return collection
    if collection.dimensions not in (0, dimensions):
        raise EmbeddingError(
            f"the model returned {dimensions}-d vectors; the collection holds "
            f"{collection.dimensions}-d ones"
        )
    await runtime.kernel.stores.vectors.ensure_hybrid_collection(
        vector_collection(collection.id), dimensions=dimensions
    )
    if collection.dimensions == 0:
        await update_collection(runtime.kernel.stores.db, collection.id, dimensions=dimensions)
    return collection


async def _store(
    runtime: RagRuntime,
    collection: CollectionRow,
    document: DocumentRow,
    chunks: list[Chunk],
    dense: list[list[float]],
    run: JobRun,
) -> None:
    from builtin_plugins.rag.runtime import vector_collection

    vectors = runtime.kernel.stores.vectors
    name = vector_collection(collection.id)
    rows: list[dict[str, Any]] = []
    points: list[HybridPoint] = []
    payload = {
        "owner_id": collection.owner_id,
        "collection_id": collection.id,
        "document_id": document.id,
    }
    tokenizer = runtime.tokenizer
    sparse_vectors = await anyio.to_thread.run_sync(
        lambda: [sparse_document(tokenizer, chunk.text) for chunk in chunks]
    )
    for chunk, vector, sparse in zip(chunks, dense, sparse_vectors, strict=True):
        chunk_id = f"{document.id}:{chunk.position}"
        nonce, sealed = runtime.cipher.seal(chunk_id, SealedText(chunk.text, chunk.section))
        rows.append(
            {
                "id": chunk_id,
                "document_id": document.id,
                "collection_id": collection.id,
                "position": chunk.position,
                "page": chunk.page,
                "nonce": nonce,
                "ciphertext": sealed,
            }
        )
        points.append(HybridPoint(id=chunk_id, dense=vector, sparse=sparse, payload=payload))
    with contextlib.suppress(NotFoundError):
        await vectors.delete_where(name, point_filter(document))
    await replace_chunks(runtime.kernel.stores.db, document.id, rows)
    await run.check()
    for start in range(0, len(points), _UPSERT_BATCH):
        await vectors.upsert_hybrid(name, points[start : start + _UPSERT_BATCH])
        await run.check()
