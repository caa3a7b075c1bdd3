"""``/api-internal/v1/rag/collections/{id}/shares``: who else reaches a collection.

The owner (or an admin) shares a collection with another user as a ``reader`` or an ``editor``,
changes the role, or revokes it; a user may also remove their own share. The user is named by
id or by email address. Every grant and revocation is audited (``rag.collection.share``,
``rag.collection.unshare``) before it takes effect, so none goes unrecorded.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, put
from litestar.params import FromPath, JSONBody

from builtin_plugins.rag.access import caller, readable_collection
from builtin_plugins.rag.payloads import ShareList, ShareRequest, ShareView, share_view
from builtin_plugins.rag.shares import delete_share, get_share, list_shares, put_share
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.gate import request_context
from kernel.runtime import Kernel
from kernel.services import UserDirectory, UserRecord

__all__ = ["SHARE_ROUTES"]


async def _user(kernel: Kernel, user: str) -> UserRecord | None:
    directory = kernel.service(UserDirectory)
    if "@" in user:
        return await directory.by_email(kernel.stores.db, user)
    return await directory.by_id(kernel.stores.db, user)


async def _audit(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    action: str,
    collection_id: str,
    details: dict[str, Any],
) -> None:
    await kernel.audit(
        event_from_context(
            request_context(request.scope),
            action=action,
            outcome="success",
            resource_type="rag_collection",
            resource_id=collection_id,
            details=details,
        )
    )


@get("/rag/collections/{collection_id:str}/shares")
async def list_rag_shares(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], collection_id: FromPath[str]
) -> ShareList:
    """The users the collection is shared with (its owner or an admin)."""
    row = await readable_collection(kernel, caller(request), collection_id, "manage")
    views = []
    for share in await list_shares(kernel.stores.db, row.id):
        user = await _user(kernel, share.user_id)
        views.append(share_view(share, None if user is None else user.email))
    return ShareList(data=views)


@put("/rag/collections/{collection_id:str}/shares/{user_id:str}")
async def put_rag_share(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    collection_id: FromPath[str],
    user_id: FromPath[str],
    data: JSONBody[ShareRequest],
) -> ShareView:
    """Share the collection with a user (id or email) as ``reader`` or ``editor``, or change
    the role of an existing share."""
    principal = caller(request)
    row = await readable_collection(kernel, principal, collection_id, "manage")
    user = await _user(kernel, user_id)
    if user is None:
        raise NotFoundError(f"No user '{user_id}'.", param="user_id")
    if user.id == row.owner_id:
        raise InvalidRequestError("The owner already has full access.", param="user_id")
    details = {"user_id": user.id, "role": data.role}
    await _audit(request, kernel, "rag.collection.share", row.id, details)
    share = await put_share(kernel.stores.db, row.id, user.id, data.role, created_by=principal.id)
    return share_view(share, user.email)


@delete("/rag/collections/{collection_id:str}/shares/{user_id:str}")
async def delete_rag_share(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    collection_id: FromPath[str],
    user_id: FromPath[str],
) -> None:
    """Revoke a share (the owner or an admin; a user may remove their own)."""
    principal = caller(request)
    user = await _user(kernel, user_id)
    target = user_id if user is None else user.id
    leaving = target == principal.owner_id
    row = await readable_collection(
        kernel, principal, collection_id, "read" if leaving else "manage"
    )
    share = await get_share(kernel.stores.db, row.id, target)
    if share is None:
        raise NotFoundError(f"The collection is not shared with '{user_id}'.", param="user_id")
    details = {"user_id": target, "role": share.role}
    await _audit(request, kernel, "rag.collection.unshare", row.id, details)
    await delete_share(kernel.stores.db, row.id, target)


SHARE_ROUTES = [list_rag_shares, put_rag_share, delete_rag_share]
