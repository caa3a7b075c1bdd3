"""The API key authenticator of the public surface.

Per request on a cache hit: one HMAC, one dict lookup, one constant-time compare and an expiry
check; no SQL and no KV. A miss reads one row by its unique prefix. Keys in the query string are
refused (they end up in logs); the key itself is never logged or audited.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from litestar import Request
from litestar.openapi.spec import SecurityScheme

from builtin_plugins.api_keys.cache import CachedKey, KeyCache
from builtin_plugins.api_keys.keys import KEY_PREFIX, hash_key, keys_match, lookup_prefix
from builtin_plugins.api_keys.principal import cached_key
from builtin_plugins.api_keys.store import KeyRecord, find_by_prefix
from builtin_plugins.api_keys.usage import UsageRecorder
from kernel.audit import event_from_context
from kernel.errors import AuthenticationError
from kernel.gate import request_context
from kernel.runtime import Kernel
from kernel.services import UserDirectory
from kernel.types import ApiSurface, Principal

__all__ = ["INVALID_KEY", "ApiKeyAuthenticator", "presented_key"]

INVALID_KEY = "Incorrect API key provided."
_QUERY_NAMES = frozenset({"api_key", "key"})


def presented_key(request: Request[Any, Any, Any]) -> str | None:
    """The ``en_`` credential of ``Authorization: Bearer`` or ``X-API-Key``, or None."""
    headers = request.headers
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value.startswith(KEY_PREFIX):
            return value
    header_key = headers.get("x-api-key")
    if header_key:
        header_key = header_key.strip()
        if header_key.startswith(KEY_PREFIX):
            return header_key
    return None


def _key_in_query(query: bytes) -> bool:
    if b"key" not in query and b"%" not in query:
        return False
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return any(name in _QUERY_NAMES and value.startswith(KEY_PREFIX) for name, value in pairs)


def _unusable(record: KeyRecord, owner_active: bool) -> str | None:
    if record.revoked_at is not None:
        return "revoked"
    if not record.is_active:
        return "inactive"
    if not owner_active:
        return "owner_inactive"
    return None


class ApiKeyAuthenticator:
    """``Authorization: Bearer en_...`` or ``X-API-Key: en_...`` → an ``api_key`` principal."""

    name = "api_keys"
    surfaces: frozenset[ApiSurface] = frozenset({"public"})
    security_schemes: ClassVar[Mapping[str, SecurityScheme]] = MappingProxyType(
        {
            "ApiKey": SecurityScheme(
                type="http",
                scheme="bearer",
                bearer_format=f"API key ({KEY_PREFIX}...)",
                description=f"An API key as `Authorization: Bearer {KEY_PREFIX}...`.",
            ),
            "ApiKeyHeader": SecurityScheme(
                type="apiKey",
                name="X-API-Key",
                security_scheme_in="header",
                description=f"The same API key as `X-API-Key: {KEY_PREFIX}...`.",
            ),
        }
    )

    def __init__(
        self, kernel: Kernel, *, cache: KeyCache, pepper: bytes, usage: UsageRecorder
    ) -> None:
        self._kernel = kernel
        self._cache = cache
        self._pepper = pepper
        self._usage = usage

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal | None:
        query = request.scope.get("query_string", b"")
        if query and _key_in_query(query):
            raise await self._refuse(
                request,
                "query_string",
                "API keys must not be sent in the URL query string; send them in the "
                "'Authorization: Bearer' header. Treat this key as exposed and regenerate it.",
                code="api_key_in_query",
            )
        key = presented_key(request)
        if key is None:
            return None
        prefix = lookup_prefix(key)
        if prefix is None:
            raise await self._refuse(request, "malformed")
        digest = hash_key(self._pepper, key)
        entry = self._cache.get(prefix) or await self._load(request, prefix, digest)
        if not keys_match(entry.key_hash, digest):
            raise await self._refuse(request, "mismatch", key_id=entry.principal.id)
        if entry.expires_at is not None and entry.expires_at <= time.time():
            raise await self._refuse(
                request,
                "expired",
                "This API key has expired.",
                code="api_key_expired",
                key_id=entry.principal.id,
            )
        self._usage.seen(entry.principal.id)
        return entry.principal

    async def _load(self, request: Request[Any, Any, Any], prefix: str, digest: bytes) -> CachedKey:
        generation = self._cache.generation
        db = self._kernel.stores.db
        record = await find_by_prefix(db, prefix)
        if record is None:
            raise await self._refuse(request, "unknown")
        if not keys_match(bytes.fromhex(record.key_hash), digest):
            raise await self._refuse(request, "mismatch", key_id=record.id)
        owner = await self._kernel.service(UserDirectory).by_id(db, record.owner_id)
        reason = _unusable(record, owner is not None and owner.active)
        if reason is not None:
            raise await self._refuse(request, reason, key_id=record.id)
        entry = cached_key(record)
        self._cache.put(entry, generation=generation)
        return entry

    async def _refuse(
        self,
        request: Request[Any, Any, Any],
        reason: str,
        message: str = INVALID_KEY,
        *,
        code: str = "invalid_api_key",
        key_id: str | None = None,
    ) -> AuthenticationError:
        """Audit a refused credential and return the error to raise."""
        await self._kernel.audit(
            event_from_context(
                request_context(request.scope),
                action="api_key.invalid",
                outcome="failure",
                resource_type="api_key" if key_id else None,
                resource_id=key_id,
                details={"reason": reason},
            )
        )
        return AuthenticationError(message, code=code)
