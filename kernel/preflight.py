"""Checks ``enclava serve`` runs before it starts workers, so a bad setting or an absent store
ends the boot with one line naming the setting (exit 3) or the store (exit 4), never a traceback
from inside the server's startup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

from kernel.errors import ConfigError, StoreUnavailableError
from kernel.settings import Settings
from kernel.storage.files import open_file_store
from kernel.storage.stores import open_configured_kv, open_sql, require_shared_stores
from kernel.storage.vectors import open_vector_store

__all__ = ["preflight"]

_TIMEOUT = 5.0


def _data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".enclava-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror.lower() if exc.strerror else type(exc).__name__
        message = f"setting data_dir (ENCLAVA_DATA_DIR): {path} is not writable ({reason})"
        raise ConfigError(message) from None


async def _ping(store: str, setting: str, ping: Awaitable[None]) -> None:
    try:
        async with asyncio.timeout(_TIMEOUT):
            await ping
    except TimeoutError:
        raise StoreUnavailableError(store, reason=f"timed out; check {setting}") from None
    except StoreUnavailableError as exc:
        raise StoreUnavailableError(store, reason=f"{exc.reason}; check {setting}") from None


async def _check_stores(settings: Settings) -> None:
    cfg = settings.kernel
    db = open_sql(settings)
    try:
        await _ping("sql", "database.url (ENCLAVA_DATABASE_URL)", db.ping())
    finally:
        await db.close()
    kv = open_configured_kv(settings)
    setting = "redis.url and redis.cluster" if cfg.redis.cluster else "redis.url"
    try:
        # A cluster must answer and report cluster_state:ok (every slot served).
        await _ping("kv", f"{setting} (ENCLAVA_REDIS_URL)", kv.ping())
    finally:
        await kv.close()
    if cfg.qdrant.url:  # the embedded store is opened by the server itself (one lock holder)
        vectors = open_vector_store(cfg.qdrant.url, cfg.qdrant.api_key, settings.data_dir)
        try:
            await _ping("vectors", "qdrant.url (ENCLAVA_QDRANT_URL)", vectors.ping())
        finally:
            await vectors.close()


def preflight(settings: Settings) -> None:
    """Raise ConfigError or StoreUnavailableError for what would stop the server's startup."""
    require_shared_stores(settings)
    _data_dir(settings.data_dir)
    open_file_store(settings.data_dir, settings.kernel.files.key)
    asyncio.run(_check_stores(settings))
