"""The API key format: ``en_`` + 40 url-safe characters (240 random bits).

A key is stored as its lookup prefix (the 12 characters after ``en_``, unique) and
HMAC-SHA256(pepper, key). A fast keyed hash is right here: keys are random, not passwords, so
there is nothing to stretch, and the pepper keeps a leaked table from confirming guesses.
"""

from __future__ import annotations

import hmac
import re
import secrets

__all__ = [
    "KEY_PREFIX",
    "PREFIX_LENGTH",
    "PUBLIC_SCOPES",
    "display_prefix",
    "generate_key",
    "hash_key",
    "keys_match",
    "lookup_prefix",
    "normalise_prefix",
]

KEY_PREFIX = "en_"
SECRET_LENGTH = 40
PREFIX_LENGTH = 12
PUBLIC_SCOPES: tuple[str, ...] = (
    "chat.completions",
    "embeddings",
    "models.list",
    "chatbots.invoke",
    "plugins.invoke",
    "rag.search",
    "rag.write",
)
"""Every scope a key can carry; a route on the public surface names one as ``enclava_scope``."""

_KEY = re.compile(rf"{KEY_PREFIX}[A-Za-z0-9_-]{{{SECRET_LENGTH}}}")
_PREFIX = re.compile(rf"(?:{KEY_PREFIX})?([A-Za-z0-9_-]{{{PREFIX_LENGTH}}})…?")


def generate_key() -> str:
    """A fresh key; ``token_urlsafe(30)`` is exactly 40 characters of ``[A-Za-z0-9_-]``."""
    return KEY_PREFIX + secrets.token_urlsafe(SECRET_LENGTH * 3 // 4)


def lookup_prefix(key: str) -> str | None:
    """The stored lookup prefix of a well-formed key, or None if ``key`` is malformed."""
    if len(key) != len(KEY_PREFIX) + SECRET_LENGTH or not _KEY.fullmatch(key):
        return None
    return key[len(KEY_PREFIX) : len(KEY_PREFIX) + PREFIX_LENGTH]


def hash_key(pepper: bytes, key: str) -> bytes:
    """HMAC-SHA256 of the whole key under the server pepper."""
    return hmac.digest(pepper, key.encode(), "sha256")  # the name selects OpenSSL's fast path


def keys_match(stored_hash: bytes, presented_hash: bytes) -> bool:
    """Constant-time comparison of two key hashes."""
    return hmac.compare_digest(stored_hash, presented_hash)


def display_prefix(prefix: str) -> str:
    """How a key is shown after creation: ``en_<first 12>…``."""
    return f"{KEY_PREFIX}{prefix}…"


def normalise_prefix(value: str) -> str | None:
    """The bare 12-character prefix from ``en_xxxxxxxxxxxx``, its display form or itself."""
    match = _PREFIX.fullmatch(value.strip())
    return match.group(1) if match else None
