"""The ``[api_keys]`` settings section (``ENCLAVA_API_KEYS_*``) and the hashing pepper.

Key hashes are HMAC-SHA256 under a server pepper, so a leaked database alone cannot confirm a
guessed key. Every replica must use the same pepper: set ``pepper`` (``ENCLAVA_API_KEYS_PEPPER``,
base64 of 32 bytes) to one value on each, or share ``data_dir`` so they all read the generated
``<data_dir>/secrets/api_keys.pepper``. Changing it invalidates every existing key.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from kernel.errors import ConfigError
from kernel.secrets import decode_key, ensure_secret

__all__ = ["PEPPER_FILE", "ApiKeysSettings", "load_pepper"]

PEPPER_FILE = "api_keys.pepper"  # the secret's file name, not a secret


class ApiKeysSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The verified-key cache and the hashing pepper."""

    cache_ttl_seconds: float = 30.0
    """How long a verified key is trusted without SQL; 0 disables the cache."""
    cache_max_entries: int = 10_000
    """Verified keys kept per replica; the least recently used is dropped first."""
    pepper: str = ""
    """Base64 of 32 bytes; empty: generated once into ``<data_dir>/secrets/api_keys.pepper``."""

    def __post_init__(self) -> None:
        if self.cache_ttl_seconds < 0:
            raise ValueError("cache_ttl_seconds must not be negative")
        if self.cache_max_entries < 0:
            raise ValueError("cache_max_entries must not be negative")
        if self.pepper:
            try:
                decode_key(self.pepper)
            except ConfigError as exc:
                raise ValueError(f"pepper: {exc}") from None


def load_pepper(settings: ApiKeysSettings, data_dir: Path) -> bytes:
    """The configured pepper, or the one generated once under ``data_dir``."""
    if settings.pepper:
        return decode_key(settings.pepper)
    return ensure_secret(data_dir, PEPPER_FILE)
