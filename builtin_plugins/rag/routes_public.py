"""``/api/v1/rag``: what an API key may do with its owner's collections.

Listing and search need the scope ``rag.search``, uploads and cancelling jobs ``rag.write``; a
key reaches only its owner's collections and those shared with its owner, and only those its
``allowed_collections`` admits.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from builtin_plugins.rag import jobs, operations
from builtin_plugins.rag.access import caller, readable_collection, readable_document
from builtin_plugins.rag.openapi import UPLOAD_DOC
from builtin_plugins.rag.payloads import (
    CollectionPage,
    DocumentView,
    SearchRequest,
    SearchResults,
    UploadResult,
    document_view,
)
from builtin_plugins.rag.retriever import search_collection
from builtin_plugins.rag.routes_internal import collection_answers
from builtin_plugins.rag.runtime import runtime_for
from builtin_plugins.rag.store import list_collections
from builtin_plugins.rag.upload import UPLOAD_BODY_OPT
from kernel.dependencies import NamedDependency
from kernel.errors import PermissionDeniedError
from kernel.openapi.operation import OPERATION_DOC
from kernel.runtime import Kernel
from kernel.services import KeyPolicy

__all__ = ["PUBLIC_ROUTES"]

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]


@get("/rag/collections", opt={"enclava_scope": "rag.search"})
async def public_collections(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    limit: Limit = 50,
    offset: Offset = 0,
) -> CollectionPage:
    """The key owner's collections (own and shared with them) that the key may use, newest
    first."""
    principal = caller(request)
    policy = kernel.service(KeyPolicy)
    runtime = runtime_for(kernel)
    rows, _ = await list_collections(
        kernel.stores.db, owner_id=principal.owner_id, limit=10_000, offset=0, shared=True
    )
    allowed = []
    for row in rows:
        try:
            policy.require_collection_allowed(principal, row.id)
        except PermissionDeniedError:
            continue
        allowed.append(row)
    page = allowed[offset : offset + limit]
    views = await collection_answers(runtime, principal, page)
    return CollectionPage(data=views, total=len(allowed), limit=limit, offset=offset)


@post(
    "/rag/collections/{collection_id:str}/search",
    status_code=200,
    opt={"enclava_scope": "rag.search"},
)
async def public_search(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    collection_id: FromPath[str],
    data: JSONBody[SearchRequest],
) -> SearchResults:
    """Search one collection (hybrid by default)."""
    return await search_collection(kernel, caller(request), collection_id, data)


@post(
    "/rag/collections/{collection_id:str}/documents",
    status_code=202,
    request_max_body_size=None,
    opt={"enclava_scope": "rag.write", OPERATION_DOC: UPLOAD_DOC, **UPLOAD_BODY_OPT},
)
async def public_upload(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], collection_id: FromPath[str]
) -> UploadResult:
    """Upload files into one collection; one ingest job per document."""
    row = await readable_collection(kernel, caller(request), collection_id, "write")
    return await operations.upload(runtime_for(kernel), request, row)


@get("/rag/documents/{document_id:str}", opt={"enclava_scope": "rag.write"})
async def public_document(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> DocumentView:
    """One uploaded document and its ingest job (how ``enclava rag ingest`` follows it)."""
    return document_view(await readable_document(kernel, caller(request), document_id))


@post(
    "/rag/documents/{document_id:str}/cancel",
    status_code=200,
    opt={"enclava_scope": "rag.write"},
)
async def public_cancel(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], document_id: FromPath[str]
) -> DocumentView:
    """Cancel a queued or running ingest job (409 once it ended)."""
    document = await readable_document(kernel, caller(request), document_id, "write")
    await jobs.cancel(runtime_for(kernel), document)
    return document_view(await readable_document(kernel, caller(request), document_id))


PUBLIC_ROUTES = [public_collections, public_search, public_upload, public_document, public_cancel]
