"""Creating, regenerating and revoking keys: shared by the internal API and the CLI.

Callers announce the change (``runtime.announce`` in the app, a KV publish in the CLI) so every
replica drops the old prefix from its cache.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from builtin_plugins.api_keys.keys import PUBLIC_SCOPES, generate_key, hash_key, lookup_prefix
from builtin_plugins.api_keys.store import KeyRecord, insert_key, update_key
from kernel.errors import ConflictError, NotFoundError
from kernel.storage.sql import Database

__all__ = ["create_key", "regenerate_key", "set_revoked"]

_ATTEMPTS = 3


def _secret(pepper: bytes) -> tuple[str, str, str]:
    key = generate_key()
    prefix = lookup_prefix(key)
    assert prefix is not None
    return key, prefix, hash_key(pepper, key).hex()


async def create_key(
    db: Database, pepper: bytes, *, owner_id: str, fields: dict[str, Any]
) -> tuple[KeyRecord, str]:
    """Store a new key for ``owner_id`` with validated ``fields``; the record and the key."""
    for _ in range(_ATTEMPTS):
        key, prefix, key_hash = _secret(pepper)
        now = datetime.now(UTC)
        record = KeyRecord(
            id=uuid.uuid4().hex,
            prefix=prefix,
            key_hash=key_hash,
            owner_id=owner_id,
            name=fields["name"],
            scopes=list(PUBLIC_SCOPES) if fields.get("scopes") is None else fields["scopes"],
            allowed_models=fields.get("allowed_models", []),
            allowed_ips=fields.get("allowed_ips", []),
            allowed_chatbots=fields.get("allowed_chatbots", []),
            allowed_collections=fields.get("allowed_collections", []),
            required_region=fields.get("required_region"),
            response_verification=fields.get("response_verification"),
            expires_at=fields.get("expires_at"),
            is_active=True,
            revoked_at=None,
            rate_limit_per_minute=fields.get("rate_limit_per_minute"),
            created_at=now,
            updated_at=now,
            last_used_at=None,
        )
        try:
            await insert_key(db, record)
        except IntegrityError:
            continue  # a prefix collision (72 random bits): draw again
        return record, key
    raise ConflictError("Could not allocate a unique API key prefix; try again.")


async def regenerate_key(db: Database, pepper: bytes, key_id: str) -> tuple[KeyRecord, str]:
    """Give ``key_id`` a new secret (and prefix), keeping its settings; the record and key."""
    for _ in range(_ATTEMPTS):
        key, prefix, key_hash = _secret(pepper)
        try:
            record = await update_key(db, key_id, {"prefix": prefix, "key_hash": key_hash})
        except IntegrityError:
            continue
        if record is None:
            raise NotFoundError("No such API key.")
        return record, key
    raise ConflictError("Could not regenerate this API key; try again.")


async def set_revoked(db: Database, key_id: str, *, revoked: bool) -> KeyRecord | None:
    """Revoke (now) or restore ``key_id``; the new record, or None if it does not exist."""
    return await update_key(db, key_id, {"revoked_at": datetime.now(UTC) if revoked else None})
