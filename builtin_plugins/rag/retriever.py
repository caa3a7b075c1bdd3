"""Search: the :class:`~kernel.services.Retriever` service and the search routes' engine.

The query is embedded with each collection's model; Qdrant ranks by the dense vector, the
sparse one, or both fused with RRF, filtered to the collection (and documents when asked).
Texts come from the encrypted chunk rows, decrypted only for the answer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import anyio.to_thread

from builtin_plugins.rag.access import readable_collection
from builtin_plugins.rag.embedding import sparse_query
from builtin_plugins.rag.ingest import embed_texts
from builtin_plugins.rag.payloads import SearchRequest, SearchResults
from builtin_plugins.rag.runtime import RagRuntime, runtime_for, vector_collection
from builtin_plugins.rag.store import CollectionRow, get_document, load_chunks
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.runtime import Kernel
from kernel.services import Passage, RetrievalMode
from kernel.storage.vectors import SparseVector, VectorHit
from kernel.types import Principal

__all__ = ["RagRetriever", "search_collection", "search_collections"]

MAX_TOP_K = 50


class RagRetriever:
    """The published :class:`~kernel.services.Retriever`."""

    def __init__(self, runtime: RagRuntime) -> None:
        self._runtime = runtime

    async def retrieve(
        self,
        principal: Principal,
        *,
        collections: Sequence[str],
        query: str,
        top_k: int = 5,
        score_threshold: float | None = None,
        mode: RetrievalMode = "hybrid",
    ) -> list[Passage]:
        rows = [
            await readable_collection(self._runtime.kernel, principal, cid) for cid in collections
        ]
        return await search_collections(
            self._runtime,
            rows,
            query=query,
            top_k=top_k,
            score_threshold=score_threshold,
            mode=mode,
        )


async def search_collection(
    kernel: Kernel, principal: Principal, collection_id: str, search: SearchRequest
) -> SearchResults:
    """What both surfaces' search routes answer: one collection ``principal`` may read."""
    row = await readable_collection(kernel, principal, collection_id)
    passages = await search_collections(
        runtime_for(kernel),
        [row],
        query=search.query,
        top_k=search.top_k,
        score_threshold=search.score_threshold,
        mode=search.mode,
        document_id=search.document_id,
    )
    return SearchResults(data=passages)


async def search_collections(
    runtime: RagRuntime,
    collections: Sequence[CollectionRow],
    *,
    query: str,
    top_k: int,
    score_threshold: float | None,
    mode: RetrievalMode,
    document_id: str | None = None,
) -> list[Passage]:
    """The best ``top_k`` passages of ``collections`` (already checked readable); its latency
    goes to the kernel's meter."""
    started = time.perf_counter()
    with runtime.kernel.components.tracer.span(
        "rag.retrieve", mode=mode, collections=len(collections), top_k=top_k
    ) as span:
        passages = await _search(
            runtime,
            collections,
            query=query,
            top_k=top_k,
            score_threshold=score_threshold,
            mode=mode,
            document_id=document_id,
        )
        span.set_attribute("passages", len(passages))
    runtime.kernel.components.meter.rag_query(mode, time.perf_counter() - started)
    return passages


async def _search(
    runtime: RagRuntime,
    collections: Sequence[CollectionRow],
    *,
    query: str,
    top_k: int,
    score_threshold: float | None,
    mode: RetrievalMode,
    document_id: str | None,
) -> list[Passage]:
    if not query.strip():
        raise InvalidRequestError("the search query is empty", param="query")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidRequestError(f"top_k must be between 1 and {MAX_TOP_K}", param="top_k")
    if score_threshold is not None and not math.isfinite(score_threshold):
        # NaN would silently match nothing (and infinity everything or nothing).
        raise InvalidRequestError(
            "score_threshold must be a finite number", param="score_threshold"
        )
    sparse: SparseVector | None = None
    if mode != "dense":
        sparse = await anyio.to_thread.run_sync(sparse_query, runtime.tokenizer, query)
    hits: list[tuple[CollectionRow, VectorHit]] = []
    for collection in collections:
        if collection.dimensions == 0:
            continue  # nothing indexed yet
        dense = None
        if mode != "sparse":
            dense = (await embed_texts(runtime, collection, [query]))[0]
        must: dict[str, str | int | bool] = {"collection_id": collection.id}
        if document_id is not None:
            must["document_id"] = document_id
        try:
            found = await runtime.kernel.stores.vectors.hybrid_search(
                vector_collection(collection.id),
                dense=dense,
                sparse=sparse if sparse is None or sparse.indices else None,
                limit=top_k,
                must=must,
                score_threshold=score_threshold,
            )
        except (NotFoundError, InvalidRequestError):
            continue
        hits.extend((collection, hit) for hit in found)
    hits.sort(key=lambda item: item[1].score, reverse=True)
    return await _passages(runtime, hits[:top_k])


async def _passages(
    runtime: RagRuntime, hits: list[tuple[CollectionRow, VectorHit]]
) -> list[Passage]:
    db = runtime.kernel.stores.db
    rows = await load_chunks(db, [hit.id for _, hit in hits])
    names: dict[str, str] = {}
    passages: list[Passage] = []
    for collection, hit in hits:
        row = rows.get(hit.id)
        if row is None or row.collection_id != collection.id:
            continue  # deleted between the vector search and now
        if row.document_id not in names:
            document = await get_document(db, row.document_id)
            names[row.document_id] = "" if document is None else document.name
        sealed = runtime.cipher.open(row.id, row.nonce, row.ciphertext)
        passages.append(
            Passage(
                collection_id=collection.id,
                document_id=row.document_id,
                document_name=names[row.document_id],
                position=row.position,
                text=sealed.text,
                score=hit.score,
                page=row.page,
                section=sealed.section,
            )
        )
    return passages
