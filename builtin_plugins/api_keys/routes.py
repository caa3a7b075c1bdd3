"""``/api-internal/v1/api-keys``: a user manages their own keys; admins see and manage all.

Another user's key answers 404, exactly like a missing one. The key is shown once, in the answer
to create and regenerate; every change is audited and announced to every replica.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from builtin_plugins.api_keys import lifecycle
from builtin_plugins.api_keys.payloads import (
    CreatedKeyView,
    CreateKey,
    KeyPage,
    KeyView,
    UpdateKey,
    validated_settings,
    view,
)
from builtin_plugins.api_keys.runtime import ApiKeysRuntime
from builtin_plugins.api_keys.store import KeyRecord, delete_key, get_key, list_keys, update_key
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import AuthenticationError, NotFoundError
from kernel.gate import request_context
from kernel.roles import is_admin
from kernel.runtime import Kernel
from kernel.types import Principal

__all__ = ["KEYS_DEPENDENCIES", "ROUTES", "provide_keys"]

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]


def provide_keys(kernel: NamedDependency[Kernel]) -> ApiKeysRuntime:
    """The kernel's api_keys runtime, injected into every handler of the plugin as ``keys``."""
    return ApiKeysRuntime.of(kernel)


KEYS_DEPENDENCIES = {"keys": Provide(provide_keys, sync_to_thread=False)}


def _caller(request: Request[Any, Any, Any]) -> Principal:
    context = request_context(request.scope)
    if context is None or context.principal is None:
        raise AuthenticationError("You didn't provide valid credentials.")
    return context.principal


async def _owned(request: Request[Any, Any, Any], keys: ApiKeysRuntime, key_id: str) -> KeyRecord:
    """The key if the caller owns it or is an admin; 404 otherwise."""
    caller = _caller(request)
    record = await get_key(keys.kernel.stores.db, key_id)
    if record is None or (record.owner_id != caller.owner_id and not is_admin(caller)):
        raise NotFoundError(f"No API key with id '{key_id}'.")
    return record


async def _audit(
    request: Request[Any, Any, Any],
    keys: ApiKeysRuntime,
    action: str,
    record: KeyRecord,
    **details: Any,
) -> None:
    event = event_from_context(
        request_context(request.scope),
        action=action,
        outcome="success",
        resource_type="api_key",
        resource_id=record.id,
        details={"owner_id": record.owner_id, **details},
    )
    await keys.kernel.audit(event)


def _created(record: KeyRecord, key: str) -> CreatedKeyView:
    return CreatedKeyView(**msgspec.structs.asdict(view(record)), key=key)


@post("/api-keys")
async def create_api_key(
    request: Request[Any, Any, Any],
    keys: NamedDependency[ApiKeysRuntime],
    data: JSONBody[CreateKey],
) -> CreatedKeyView:
    """Create a key for the caller; the answer carries the key, shown this once."""
    fields = validated_settings(
        {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None},
        regions=keys.kernel.provider_regions(),
    )
    record, key = await lifecycle.create_key(
        keys.kernel.stores.db,
        keys.pepper(),
        owner_id=_caller(request).owner_id,
        fields=fields,
    )
    await _audit(request, keys, "api_key.create", record, scopes=record.scopes)
    return _created(record, key)


@get("/api-keys")
async def list_api_keys(
    request: Request[Any, Any, Any],
    keys: NamedDependency[ApiKeysRuntime],
    limit: Limit = 50,
    offset: Offset = 0,
    owner_id: FromQuery[str | None] = None,
) -> KeyPage:
    """The caller's keys, newest first; admins see every user's, or only ``owner_id``'s."""
    caller = _caller(request)
    if not is_admin(caller):
        owner_id = caller.owner_id
    records, total = await list_keys(
        keys.kernel.stores.db, owner_id=owner_id, limit=limit, offset=offset
    )
    return KeyPage(data=[view(r) for r in records], total=total, limit=limit, offset=offset)


@get("/api-keys/{key_id:str}")
async def get_api_key(
    request: Request[Any, Any, Any], keys: NamedDependency[ApiKeysRuntime], key_id: FromPath[str]
) -> KeyView:
    """One key (never the key itself)."""
    return view(await _owned(request, keys, key_id))


@patch("/api-keys/{key_id:str}")
async def update_api_key(
    request: Request[Any, Any, Any],
    keys: NamedDependency[ApiKeysRuntime],
    key_id: FromPath[str],
    data: JSONBody[UpdateKey],
) -> KeyView:
    """Change name, scopes, restrictions, expiry, rate limit or ``is_active``."""
    record = await _owned(request, keys, key_id)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    fields = validated_settings(changes, regions=keys.kernel.provider_regions())
    updated = await update_key(keys.kernel.stores.db, key_id, fields)
    if updated is None:
        raise NotFoundError(f"No API key with id '{key_id}'.")
    await keys.announce(record.prefix)
    await _audit(request, keys, "api_key.update", updated, fields=sorted(changes))
    return view(updated)


async def _set_revoked(
    request: Request[Any, Any, Any], keys: ApiKeysRuntime, key_id: str, *, revoked: bool
) -> KeyView:
    record = await _owned(request, keys, key_id)
    updated = await lifecycle.set_revoked(keys.kernel.stores.db, key_id, revoked=revoked)
    if updated is None:
        raise NotFoundError(f"No API key with id '{key_id}'.")
    await keys.announce(record.prefix)
    await _audit(request, keys, "api_key.revoke" if revoked else "api_key.restore", updated)
    return view(updated)


@post("/api-keys/{key_id:str}/revoke", status_code=200)
async def revoke_api_key(
    request: Request[Any, Any, Any], keys: NamedDependency[ApiKeysRuntime], key_id: FromPath[str]
) -> KeyView:
    """Stop the key working on every replica at once; ``restore`` undoes it."""
    return await _set_revoked(request, keys, key_id, revoked=True)


@post("/api-keys/{key_id:str}/restore", status_code=200)
async def restore_api_key(
    request: Request[Any, Any, Any], keys: NamedDependency[ApiKeysRuntime], key_id: FromPath[str]
) -> KeyView:
    """Let a revoked key work again."""
    return await _set_revoked(request, keys, key_id, revoked=False)


@post("/api-keys/{key_id:str}/regenerate", status_code=200)
async def regenerate_api_key(
    request: Request[Any, Any, Any], keys: NamedDependency[ApiKeysRuntime], key_id: FromPath[str]
) -> CreatedKeyView:
    """A new secret with the same settings; the old key stops working everywhere at once."""
    record = await _owned(request, keys, key_id)
    updated, key = await lifecycle.regenerate_key(keys.kernel.stores.db, keys.pepper(), key_id)
    await keys.announce(record.prefix)
    await _audit(request, keys, "api_key.regenerate", updated)
    return _created(updated, key)


@delete("/api-keys/{key_id:str}")
async def delete_api_key(
    request: Request[Any, Any, Any], keys: NamedDependency[ApiKeysRuntime], key_id: FromPath[str]
) -> None:
    """Remove the key for good (revoking keeps it, with its history)."""
    record = await _owned(request, keys, key_id)
    await delete_key(keys.kernel.stores.db, key_id)
    await keys.announce(record.prefix)
    await _audit(request, keys, "api_key.delete", record)


ROUTES = [
    create_api_key,
    list_api_keys,
    get_api_key,
    update_api_key,
    revoke_api_key,
    restore_api_key,
    regenerate_api_key,
    delete_api_key,
]
