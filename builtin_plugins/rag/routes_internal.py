"""``/api-internal/v1/rag``: collections, documents, jobs and search for signed-in users.

A user reaches their own collections and documents; admins reach everyone's. Anything else
answers 404, exactly like a missing one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent

from builtin_plugins.rag import operations
from builtin_plugins.rag.access import caller, readable_collection, readable_document
from builtin_plugins.rag.openapi import DOWNLOAD_DOC, EVENTS_DOC, UPLOAD_DOC
from builtin_plugins.rag.payloads import (
    CollectionPage,
    CollectionView,
    CreateCollection,
    DocumentPage,
    DocumentView,
    JobView,
    SearchRequest,
    SearchResults,
    UpdateCollection,
    UploadResult,
    collection_view,
    document_view,
)
from builtin_plugins.rag.retriever import search_collection
from builtin_plugins.rag.runtime import RagRuntime, runtime_for
from builtin_plugins.rag.store import (
    CollectionRow,
    collection_stats,
    get_document,
    list_collections,
    list_documents,
    update_collection,
)
from builtin_plugins.rag.upload import UPLOAD_BODY_OPT
from kernel.dependencies import NamedDependency
from kernel.openapi.operation import OPERATION_DOC
from kernel.roles import is_admin
from kernel.runtime import Kernel

__all__ = ["INTERNAL_ROUTES", "collection_answer"]

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]
_TERMINAL = {"indexed", "failed"}
_POLL_SECONDS = 0.5


async def collection_answer(runtime: RagRuntime, row: CollectionRow) -> CollectionView:
    documents, chunks = await collection_stats(runtime.kernel.stores.db, row.id)
    return collection_view(row, documents=documents, chunks=chunks)


@post("/rag/collections")
async def create_collection(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    data: JSONBody[CreateCollection],
) -> CollectionView:
    """Create a collection owned by the caller."""
    runtime = runtime_for(kernel)
    row = await operations.create_collection(runtime, caller(request).owner_id, data)
    return await collection_answer(runtime, row)


@get("/rag/collections")
async def list_rag_collections(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    limit: Limit = 50,
    offset: Offset = 0,
    owner_id: FromQuery[str | None] = None,
) -> CollectionPage:
    """The caller's collections, newest first; admins see all, or only ``owner_id``'s."""
    principal = caller(request)
    if not is_admin(principal):
        owner_id = principal.owner_id
    runtime = runtime_for(kernel)
    rows, total = await list_collections(
        kernel.stores.db, owner_id=owner_id, limit=limit, offset=offset
    )
    views = [await collection_answer(runtime, row) for row in rows]
    return CollectionPage(data=views, total=total, limit=limit, offset=offset)


@get("/rag/collections/{collection_id:str}")
async def get_rag_collection(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], collection_id: FromPath[str]
) -> CollectionView:
    """One collection with its document and chunk counts."""
    row = await readable_collection(kernel, caller(request), collection_id)
    return await collection_answer(runtime_for(kernel), row)


@patch("/rag/collections/{collection_id:str}")
async def update_rag_collection(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    collection_id: FromPath[str],
    data: JSONBody[UpdateCollection],
) -> CollectionView:
    """Rename a collection or change its description."""
    row = await readable_collection(kernel, caller(request), collection_id)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if changes:
        await update_collection(kernel.stores.db, row.id, **changes)
    row = await readable_collection(kernel, caller(request), collection_id)
    return await collection_answer(runtime_for(kernel), row)


@delete("/rag/collections/{collection_id:str}")
async def delete_rag_collection(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], collection_id: FromPath[str]
) -> None:
    """Delete a collection with every document, chunk, vector and stored original."""
    row = await readable_collection(kernel, caller(request), collection_id)
    await operations.delete_collection(runtime_for(kernel), row)


@post(
    "/rag/collections/{collection_id:str}/documents",
    status_code=202,
    request_max_body_size=None,
    opt={OPERATION_DOC: UPLOAD_DOC, **UPLOAD_BODY_OPT},
)
async def upload_documents(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], collection_id: FromPath[str]
) -> UploadResult:
    """Upload files (multipart, any part with a file name); one ingest job per document."""
    row = await readable_collection(kernel, caller(request), collection_id)
    return await operations.upload(runtime_for(kernel), request, row)


@get("/rag/collections/{collection_id:str}/documents")
async def list_rag_documents(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    collection_id: FromPath[str],
    limit: Limit = 100,
    offset: Offset = 0,
) -> DocumentPage:
    """The collection's documents with the state of their ingest jobs."""
    row = await readable_collection(kernel, caller(request), collection_id)
    rows, total = await list_documents(kernel.stores.db, row.id, limit=limit, offset=offset)
    return DocumentPage(
        data=[document_view(d) for d in rows], total=total, limit=limit, offset=offset
    )


@post("/rag/collections/{collection_id:str}/search", status_code=200)
async def search_rag_collection(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    collection_id: FromPath[str],
    data: JSONBody[SearchRequest],
) -> SearchResults:
    """Hybrid (or dense, or sparse) search of one collection."""
    return await search_collection(kernel, caller(request), collection_id, data)


@get("/rag/documents/{document_id:str}")
async def get_rag_document(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> DocumentView:
    """One document and its ingest job."""
    return document_view(await readable_document(kernel, caller(request), document_id))


@delete("/rag/documents/{document_id:str}")
async def delete_rag_document(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> None:
    """Cancel its job and delete its vectors, chunks and encrypted original."""
    document = await readable_document(kernel, caller(request), document_id)
    await operations.delete_document(runtime_for(kernel), document)


@post("/rag/documents/{document_id:str}/reprocess", status_code=202)
async def reprocess_rag_document(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> DocumentView:
    """Cancel a running job and run the document's ingest again."""
    document = await readable_document(kernel, caller(request), document_id)
    await operations.reprocess(runtime_for(kernel), document)
    return document_view(await readable_document(kernel, caller(request), document_id))


@get("/rag/documents/{document_id:str}/download", opt={OPERATION_DOC: DOWNLOAD_DOC})
async def download_rag_document(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> Response[bytes]:
    """The original file, decrypted for its owner."""
    document = await readable_document(kernel, caller(request), document_id)
    data = await kernel.stores.files.get(document.file_id, owner=document.owner_id)
    safe = "".join(c if c.isalnum() or c in "._-# " else "_" for c in document.name)
    return Response(
        content=data,
        media_type=document.content_type,
        headers={"content-disposition": f'attachment; filename="{safe}"'},
    )


@get("/rag/documents/{document_id:str}/events", opt={OPERATION_DOC: EVENTS_DOC})
async def rag_document_events(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> ServerSentEvent:
    """Server-sent ``progress`` events of the document's job until it is indexed or failed."""
    await readable_document(kernel, caller(request), document_id)
    return ServerSentEvent(_progress(kernel, document_id))


async def _progress(kernel: Kernel, document_id: str) -> AsyncIterator[dict[str, str]]:
    last: JobView | None = None
    while True:
        document = await get_document(kernel.stores.db, document_id)
        if document is None:
            yield {"event": "deleted", "data": "{}"}
            return
        job = document_view(document).job
        if job != last:
            yield {"event": "progress", "data": msgspec.json.encode(job).decode()}
            last = job
        if job.state in _TERMINAL:
            return
        await asyncio.sleep(_POLL_SECONDS)


INTERNAL_ROUTES = [
    create_collection,
    list_rag_collections,
    get_rag_collection,
    update_rag_collection,
    delete_rag_collection,
    upload_documents,
    list_rag_documents,
    search_rag_collection,
    get_rag_document,
    delete_rag_document,
    reprocess_rag_document,
    download_rag_document,
    rag_document_events,
]
