"""Who may reach a collection or document: its owner, and admins; anyone else gets 404.

An API key reaches its owner's collections only, and only those its ``allowed_collections``
admits (the api_keys plugin's :class:`~kernel.services.KeyPolicy` decides, failing closed).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from builtin_plugins.rag.store import CollectionRow, DocumentRow, get_collection, get_document
from kernel.errors import AuthenticationError, NotFoundError
from kernel.gate import request_context
from kernel.roles import is_admin
from kernel.runtime import Kernel
from kernel.services import KeyPolicy
from kernel.types import Principal

__all__ = ["caller", "readable_collection", "readable_document"]


def caller(request: Request[Any, Any, Any]) -> Principal:
    context = request_context(request.scope)
    if context is None or context.principal is None:
        raise AuthenticationError("You didn't provide valid credentials.")
    return context.principal


def _may_read(principal: Principal, owner_id: str) -> bool:
    if principal.kind == "plugin":
        return False
    return owner_id == principal.owner_id or is_admin(principal)


async def readable_collection(
    kernel: Kernel, principal: Principal, collection_id: str
) -> CollectionRow:
    """The collection if ``principal`` may use it; 404 (403 for a key restricted elsewhere)."""
    if principal.kind == "api_key":
        kernel.service(KeyPolicy).require_collection_allowed(principal, collection_id)
    collection = await get_collection(kernel.stores.db, collection_id)
    if collection is None or not _may_read(principal, collection.owner_id):
        raise NotFoundError(f"No collection with id '{collection_id}'.")
    return collection


async def readable_document(kernel: Kernel, principal: Principal, document_id: str) -> DocumentRow:
    """The document if ``principal`` may use it; 404 otherwise."""
    document = await get_document(kernel.stores.db, document_id)
    if document is None or not _may_read(principal, document.owner_id):
        raise NotFoundError(f"No document with id '{document_id}'.")
    if principal.kind == "api_key":
        kernel.service(KeyPolicy).require_collection_allowed(principal, document.collection_id)
    return document
