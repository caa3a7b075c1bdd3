"""The four stores a kernel opens, checks and closes together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kernel.errors import ConfigError, StoreUnavailableError
from kernel.settings import Settings
from kernel.storage.files import EncryptedFileStore, open_file_store
from kernel.storage.kv import KV, open_kv
from kernel.storage.sql import Database, open_database, resolve_database_url
from kernel.storage.vectors import VectorStore, open_vector_store

__all__ = ["Stores", "open_sql", "open_stores", "require_shared_stores"]

log = logging.getLogger(__name__)
_PING_TIMEOUT = 3.0


class Stores:
    """SQL, KV, vectors and files, as configured."""

    def __init__(
        self, db: Database, kv: KV, vectors: VectorStore, files: EncryptedFileStore
    ) -> None:
        self.db = db
        self.kv = kv
        self.vectors = vectors
        self.files = files

    async def check(self) -> dict[str, str | None]:
        """Ping every store concurrently: store name → None when healthy, else the reason."""
        probes: dict[str, Callable[[], Awaitable[None]]] = {
            "sql": self.db.ping,
            "kv": self.kv.ping,
            "vectors": self.vectors.ping,
            "files": self.files.ping,
        }
        results = await asyncio.gather(
            *(asyncio.wait_for(probe(), _PING_TIMEOUT) for probe in probes.values()),
            return_exceptions=True,
        )
        return {name: _reason(result) for name, result in zip(probes, results, strict=True)}

    async def close(self) -> None:
        for closer in (self.kv.close, self.vectors.close, self.db.close):
            try:
                await closer()
            except Exception:
                log.exception("closing a store failed")


def _reason(result: BaseException | None) -> str | None:
    if result is None:
        return None
    if isinstance(result, StoreUnavailableError):
        return result.message
    if isinstance(result, TimeoutError):
        return "timed out"
    return type(result).__name__


def require_shared_stores(settings: Settings) -> None:
    """ConfigError when more than one worker would share in-process (embedded) stores."""
    cfg = settings.kernel
    # Only the rag plugin uses vectors; the embedded store locks at first use (lazy_lock).
    rag = "rag" not in cfg.plugins.disabled
    needed = (("redis", cfg.redis.url, True), ("qdrant", cfg.qdrant.url, rag))
    embedded = [name for name, url, used in needed if used and not url]
    if cfg.server.workers > 1 and embedded:
        env = ", ".join(f"ENCLAVA_{name.upper()}_URL" for name in embedded)
        raise ConfigError(
            f"--workers {cfg.server.workers} needs shared stores; set "
            f"{', '.join(f'{name}.url' for name in embedded)} "
            f"({env}): in-process stores serve one process only"
        )


def open_sql(settings: Settings) -> Database:
    """The configured database (SQLite in the data dir when no URL is set)."""
    cfg = settings.kernel.database
    return open_database(
        resolve_database_url(cfg.url, settings.data_dir), pool_size=cfg.pool_size, echo=cfg.echo
    )


def open_configured_kv(settings: Settings) -> KV:
    """The configured KV: memory when ``redis.url`` is empty, else Redis or Redis Cluster."""
    cfg = settings.kernel.redis
    return open_kv(cfg.url, prefix=cfg.prefix, cluster=cfg.cluster)


def open_stores(settings: Settings) -> Stores:
    """Open every store for ``settings`` (embedded defaults where no URL is set)."""
    require_shared_stores(settings)
    cfg = settings.kernel
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    db = open_sql(settings)
    kv = open_configured_kv(settings)
    lazy = cfg.server.workers > 1  # several workers: the embedded store is never used
    vectors = open_vector_store(
        cfg.qdrant.url,
        cfg.qdrant.api_key,
        data_dir,
        lazy_lock=lazy,
        embedded_engine=cfg.qdrant.embedded_engine,
    )
    files = open_file_store(data_dir, cfg.files.key)
    return Stores(db, kv, vectors, files)
