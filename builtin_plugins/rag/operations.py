"""What the internal and public routes share: creating, uploading into, and deleting."""

from __future__ import annotations

import contextlib
from typing import Any

from litestar import Request

from builtin_plugins.rag.embedding import LOCAL_DIMENSIONS, LOCAL_MODEL
from builtin_plugins.rag.payloads import (
    CreateCollection,
    FileError,
    UploadResult,
    document_view,
)
from builtin_plugins.rag.runtime import RagRuntime, vector_collection
from builtin_plugins.rag.sniff import CONTENT_TYPES, sniff
from builtin_plugins.rag.store import (
    CollectionRow,
    DocumentRow,
    delete_collection_row,
    delete_document_rows,
    insert_collection,
    insert_document,
    list_documents,
    set_job,
)
from builtin_plugins.rag.upload import UploadedFile, read_files
from kernel.errors import EnclavaError, InvalidRequestError, NotFoundError

__all__ = ["create_collection", "delete_collection", "delete_document", "reprocess", "upload"]


async def create_collection(
    runtime: RagRuntime, owner_id: str, data: CreateCollection
) -> CollectionRow:
    settings = runtime.settings
    kind = data.embedding or settings.default_embedding
    if kind == "local":
        if data.embedding_model not in (None, LOCAL_MODEL):
            raise InvalidRequestError(f"local collections use the model '{LOCAL_MODEL}'")
        model, dimensions = LOCAL_MODEL, LOCAL_DIMENSIONS
    else:
        model = data.embedding_model or settings.default_embedding_model
        if not model:
            raise InvalidRequestError("a provider collection needs embedding_model")
        dimensions = 0  # fixed by the first vectors the model returns
    if data.chunk_overlap >= data.chunk_size:
        raise InvalidRequestError("chunk_overlap must be smaller than chunk_size")
    row = await insert_collection(
        runtime.kernel.stores.db,
        owner_id=owner_id,
        name=data.name,
        description=data.description,
        embedding_kind=kind,
        embedding_model=model,
        dimensions=dimensions,
        chunk_size=data.chunk_size,
        chunk_overlap=data.chunk_overlap,
    )
    if dimensions:
        await runtime.kernel.stores.vectors.ensure_hybrid_collection(
            vector_collection(row.id), dimensions=dimensions
        )
    return row


async def upload(
    runtime: RagRuntime, request: Request[Any, Any, Any], collection: CollectionRow
) -> UploadResult:
    """Store every readable file encrypted and queue one job per document."""
    settings = runtime.settings
    files = await read_files(
        request.headers.get("content-type", ""),
        request.stream(),
        max_bytes=settings.max_upload_bytes,
        max_files=settings.max_files_per_upload,
    )
    result = UploadResult(documents=[], errors=[])
    for file in files:
        try:
            for name, kind, data in _documents_of(file):
                document = await _store_document(runtime, collection, name, kind, data)
                result.documents.append(document_view(document))
        except EnclavaError as exc:
            result.errors.append(
                FileError(name=file.name, code=exc.code or exc.error_type, message=exc.message)
            )
    for view in result.documents:
        runtime.enqueue(view.id)
    return result


def _documents_of(file: UploadedFile) -> list[tuple[str, str, bytes]]:
    """(name, kind, bytes) of the documents in a file: one, or one per JSON Lines record."""
    kind = sniff(file.data)
    if kind != "jsonl":
        return [(file.name, kind, file.data)]
    lines = [line for line in file.data.splitlines() if line.strip()]
    return [(f"{file.name}#{n}", "json", line) for n, line in enumerate(lines, start=1)]


async def _store_document(
    runtime: RagRuntime, collection: CollectionRow, name: str, kind: str, data: bytes
) -> DocumentRow:
    file_id = await runtime.kernel.stores.files.put(data, owner=collection.owner_id)
    return await insert_document(
        runtime.kernel.stores.db,
        collection_id=collection.id,
        owner_id=collection.owner_id,
        name=name[:500],
        content_type=CONTENT_TYPES[kind],
        size=len(data),
        file_id=file_id,
    )


async def delete_document(runtime: RagRuntime, document: DocumentRow) -> None:
    """Stop its job, then remove its points, chunk rows, job, row and encrypted original."""
    await runtime.cancel(document.id)
    stores = runtime.kernel.stores
    with contextlib.suppress(NotFoundError):
        await stores.vectors.delete_where(
            vector_collection(document.collection_id), {"document_id": document.id}
        )
    await delete_document_rows(stores.db, [document.id])
    await stores.files.delete(document.file_id)


async def reprocess(runtime: RagRuntime, document: DocumentRow) -> None:
    """Run the document's job again from the start (its chunks are replaced when it ends)."""
    await runtime.cancel(document.id)
    await set_job(runtime.kernel.stores.db, document.id, "queued", progress=0)
    runtime.enqueue(document.id)


async def delete_collection(runtime: RagRuntime, collection: CollectionRow) -> None:
    """Every document (points, chunks, originals), the vector collection, then the row."""
    stores = runtime.kernel.stores
    documents, _ = await list_documents(stores.db, collection.id)
    for document in documents:
        await runtime.cancel(document.id)
    await stores.vectors.drop_collection(vector_collection(collection.id))
    await delete_document_rows(stores.db, [d.id for d in documents])
    for document in documents:
        await stores.files.delete(document.file_id)
    await delete_collection_row(stores.db, collection.id)
