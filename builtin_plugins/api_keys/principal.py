"""The principal an API key authenticates as, and what the gateway reads from it.

Its ``scopes``, ``allowed_models`` (None when the key allows every model) and
``required_region`` are kernel fields: the kernel gate enforces the scope and model each route
declares. ``Principal.attributes`` of an ``api_key`` principal (shared by every request with that
key: consumers must not mutate them):

| attribute | type | meaning |
|---|---|---|
| ``key_prefix`` | str | the key's lookup prefix (12 characters, not secret) |
| ``rate_limit_per_minute`` | int or None | per-key override read by the rate_limit plugin |
| ``allowed_chatbots`` | tuple[str, ...] | empty: every chatbot (see :mod:`.policy`) |
| ``allowed_collections`` | tuple[str, ...] | empty: every RAG collection (see :mod:`.policy`) |
| ``allowed_ips`` | tuple[str, ...] | CIDRs; empty: any address (see :mod:`.checks`) |
| ``response_verification`` | str or None | ``async``/``strict``: answers verified at least so |
"""

from __future__ import annotations

from builtin_plugins.api_keys.cache import CachedKey
from builtin_plugins.api_keys.store import KeyRecord
from kernel.types import Principal

__all__ = ["cached_key", "key_principal"]


def key_principal(record: KeyRecord) -> Principal:
    """The ``api_key`` principal of ``record``, owned by its user."""
    return Principal(
        kind="api_key",
        id=record.id,
        owner_id=record.owner_id,
        scopes=frozenset(record.scopes),
        allowed_models=frozenset(record.allowed_models) or None,
        required_region=record.required_region,
        attributes={
            "key_prefix": record.prefix,
            "rate_limit_per_minute": record.rate_limit_per_minute,
            "allowed_chatbots": tuple(record.allowed_chatbots),
            "allowed_collections": tuple(record.allowed_collections),
            "allowed_ips": tuple(record.allowed_ips),
            "response_verification": record.response_verification,
        },
    )


def cached_key(record: KeyRecord) -> CachedKey:
    """The cache entry of a verified, usable ``record``."""
    return CachedKey(
        prefix=record.prefix,
        key_hash=bytes.fromhex(record.key_hash),
        principal=key_principal(record),
        expires_at=record.expires_at.timestamp() if record.expires_at else None,
    )
