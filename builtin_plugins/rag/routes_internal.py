"""``/api-internal/v1/rag``: collections, documents, jobs and search for signed-in users.

A user reaches their own collections and documents and those shared with them; admins reach
everyone's. Anything else answers 404, exactly like a missing one; too little access (a reader
uploading, an editor deleting the collection) answers 403.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent

from builtin_plugins.rag import jobs, operations
from builtin_plugins.rag.access import (
    Access,
    caller,
    reach_collection,
    readable_collection,
    readable_document,
)
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
from builtin_plugins.rag.shares import share_roles
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
from kernel.types import Principal

__all__ = ["INTERNAL_ROUTES", "collection_answer", "collection_answers"]

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]
_TERMINAL = {"indexed", "failed", "cancelled"}
_POLL_SECONDS = 0.5


async def collection_answer(
    runtime: RagRuntime, row: CollectionRow, access: Access
) -> CollectionView:
    documents, chunks = await collection_stats(runtime.kernel.stores.db, row.id)
    return collection_view(row, access=access, documents=documents, chunks=chunks)


async def collection_answers(
    runtime: RagRuntime, principal: Principal, rows: list[CollectionRow]
) -> list[CollectionView]:
    """Views of listed collections, each with what ``principal`` may do with it."""
    others = [row.id for row in rows if row.owner_id != principal.owner_id]
    shared = await share_roles(runtime.kernel.stores.db, principal.owner_id, others)
    views = []
    for row in rows:
        access: Access = shared.get(row.id, "reader")
        if row.owner_id == principal.owner_id:
            access = "owner"
        elif is_admin(principal):
            access = "admin"
        views.append(await collection_answer(runtime, row, access))
    return views


@post("/rag/collections")
async def create_collection(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    data: JSONBody[CreateCollection],
) -> CollectionView:
    """Create a collection owned by the caller."""
    runtime = runtime_for(kernel)
    row = await operations.create_collection(runtime, caller(request).owner_id, data)
    return await collection_answer(runtime, row, "owner")


@get("/rag/collections")
async def list_rag_collections(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    limit: Limit = 50,
    offset: Offset = 0,
    owner_id: FromQuery[str | None] = None,
) -> CollectionPage:
    """The caller's collections and those shared with them, newest first; admins see all, or
    only ``owner_id``'s."""
    principal = caller(request)
    shared = not is_admin(principal)
    if shared:
        owner_id = principal.owner_id
    runtime = runtime_for(kernel)
    rows, total = await list_collections(
        kernel.stores.db, owner_id=owner_id, limit=limit, offset=offset, shared=shared
    )
    views = await collection_answers(runtime, principal, rows)
    return CollectionPage(data=views, total=total, limit=limit, offset=offset)


@get("/rag/collections/{collection_id:str}")
async def get_rag_collection(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], collection_id: FromPath[str]
) -> CollectionView:
    """One collection with its document and chunk counts."""
    row, access = await reach_collection(kernel, caller(request), collection_id)
    return await collection_answer(runtime_for(kernel), row, access)


@patch("/rag/collections/{collection_id:str}")
async def update_rag_collection(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    collection_id: FromPath[str],
    data: JSONBody[UpdateCollection],
) -> CollectionView:
    """Rename a collection or change its description (its owner or an admin)."""
    row = await readable_collection(kernel, caller(request), collection_id, "manage")
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if changes:
        await update_collection(kernel.stores.db, row.id, **changes)
    row, access = await reach_collection(kernel, caller(request), collection_id, "manage")
    return await collection_answer(runtime_for(kernel), row, access)


@delete("/rag/collections/{collection_id:str}")
async def delete_rag_collection(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], collection_id: FromPath[str]
) -> None:
    """Delete a collection with every document, chunk, vector, stored original and share."""
    row = await readable_collection(kernel, caller(request), collection_id, "manage")
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
    row = await readable_collection(kernel, caller(request), collection_id, "write")
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
    document = await readable_document(kernel, caller(request), document_id, "write")
    await operations.delete_document(runtime_for(kernel), document)


@post("/rag/documents/{document_id:str}/reprocess", status_code=202)
async def reprocess_rag_document(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> DocumentView:
    """Cancel a running job and run the document's ingest again."""
    document = await readable_document(kernel, caller(request), document_id, "write")
    await operations.reprocess(runtime_for(kernel), document)
    return document_view(await readable_document(kernel, caller(request), document_id))


@post("/rag/documents/{document_id:str}/cancel", status_code=200)
async def cancel_rag_document(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> DocumentView:
    """Cancel a queued or running ingest job (409 once it ended); the document stays, without
    chunks, and can be reprocessed."""
    document = await readable_document(kernel, caller(request), document_id, "write")
    await jobs.cancel(runtime_for(kernel), document)
    return document_view(await readable_document(kernel, caller(request), document_id))


@get("/rag/documents/{document_id:str}/download", opt={OPERATION_DOC: DOWNLOAD_DOC})
async def download_rag_document(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> Response[bytes]:
    """The original file, decrypted for its owner and those it is shared with."""
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
    """Server-sent ``progress`` events of the document's job until it is indexed, failed or
    cancelled."""
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
    cancel_rag_document,
    download_rag_document,
    rag_document_events,
]
