"""Who may reach a collection or document: its owner, admins, and the users it is shared with.

A share makes its user a ``reader`` (list, search, download) or an ``editor`` (also upload,
reprocess, cancel and delete documents); renaming, deleting and sharing the collection stay with
its owner and admins. Anyone without access gets 404, exactly like a missing collection; a user
with too little access gets 403. An API key acts for its owner (own and shared collections),
and only on those its ``allowed_collections`` admits (the api_keys plugin's
:class:`~kernel.services.KeyPolicy` decides, failing closed).
"""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request

from builtin_plugins.rag.shares import get_share
from builtin_plugins.rag.store import CollectionRow, DocumentRow, get_collection, get_document
from kernel.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from kernel.gate import request_context
from kernel.roles import is_admin
from kernel.runtime import Kernel
from kernel.services import KeyPolicy
from kernel.types import Principal

__all__ = [
    "Access",
    "Need",
    "caller",
    "collection_access",
    "reach_collection",
    "readable_collection",
    "readable_document",
]

Access = Literal["owner", "admin", "editor", "reader"]
Need = Literal["read", "write", "manage"]
_GRANTS: dict[Access, frozenset[Need]] = {
    "owner": frozenset({"read", "write", "manage"}),
    "admin": frozenset({"read", "write", "manage"}),
    "editor": frozenset({"read", "write"}),
    "reader": frozenset({"read"}),
}
_REFUSALS: dict[Need, str] = {
    "write": "Only the collection's owner, an admin or an editor it is shared with may do this.",
    "manage": "Only the collection's owner or an admin may do this.",
}


def caller(request: Request[Any, Any, Any]) -> Principal:
    context = request_context(request.scope)
    if context is None or context.principal is None:
        raise AuthenticationError("You didn't provide valid credentials.")
    return context.principal


async def collection_access(
    kernel: Kernel, principal: Principal, collection_id: str, owner_id: str
) -> Access | None:
    """What ``principal`` may do with the collection ``collection_id`` of ``owner_id``."""
    if principal.kind == "plugin":
        return None
    if owner_id == principal.owner_id:
        return "owner"
    if is_admin(principal):
        return "admin"
    share = await get_share(kernel.stores.db, collection_id, principal.owner_id)
    return None if share is None else share.role


def _require(access: Access, need: Need) -> None:
    if need not in _GRANTS[access]:
        raise PermissionDeniedError(_REFUSALS.get(need, "Permission denied."))


async def reach_collection(
    kernel: Kernel, principal: Principal, collection_id: str, need: Need = "read"
) -> tuple[CollectionRow, Access]:
    """The collection and the caller's access if it covers ``need``; 404 without any access,
    403 with too little (or for a key restricted to other collections)."""
    if principal.kind == "api_key":
        kernel.service(KeyPolicy).require_collection_allowed(principal, collection_id)
    collection = await get_collection(kernel.stores.db, collection_id)
    access = None
    if collection is not None:
        access = await collection_access(kernel, principal, collection.id, collection.owner_id)
    if collection is None or access is None:
        raise NotFoundError(f"No collection with id '{collection_id}'.")
    _require(access, need)
    return collection, access


async def readable_collection(
    kernel: Kernel, principal: Principal, collection_id: str, need: Need = "read"
) -> CollectionRow:
    """The collection if ``principal`` may do ``need`` with it (see :func:`reach_collection`)."""
    return (await reach_collection(kernel, principal, collection_id, need))[0]


async def readable_document(
    kernel: Kernel, principal: Principal, document_id: str, need: Need = "read"
) -> DocumentRow:
    """The document if ``principal`` may do ``need`` with its collection; 404 without access."""
    document = await get_document(kernel.stores.db, document_id)
    access = None
    if document is not None:
        access = await collection_access(
            kernel, principal, document.collection_id, document.owner_id
        )
    if document is None or access is None:
        raise NotFoundError(f"No document with id '{document_id}'.")
    if principal.kind == "api_key":
        kernel.service(KeyPolicy).require_collection_allowed(principal, document.collection_id)
    _require(access, need)
    return document
