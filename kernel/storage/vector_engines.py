"""How qdrant-client reaches Qdrant: a server over HTTP, or its local mode in a directory.

Each engine creates the qdrant-client lazily (``connect``), answers readiness without it
(``probe``) and releases what it holds (``release``). :class:`DirectoryLock` keeps a second
process out of an embedded data directory (the local mode's and qdrant-edge-py's alike).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import aiohttp

from kernel.errors import ConfigError, StoreUnavailableError, os_reason

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient

__all__ = ["DirectoryLock", "EmbeddedEngine", "Engine", "ServerEngine"]

_PROBE_TIMEOUT = aiohttp.ClientTimeout(total=3)


class Engine(Protocol):
    def connect(self) -> AsyncQdrantClient: ...

    async def probe(self) -> None: ...

    def release(self) -> None: ...


class ServerEngine:
    """A Qdrant server; ``probe`` asks its ``/readyz``."""

    def __init__(self, url: str, api_key: str, *, timeout: int) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError("setting qdrant.url is not a valid http(s) URL")
        self._url = url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout

    def connect(self) -> AsyncQdrantClient:
        from qdrant_client import AsyncQdrantClient

        return AsyncQdrantClient(
            url=self._url,
            api_key=self._api_key or None,
            timeout=self._timeout,
            check_compatibility=False,
        )

    async def probe(self) -> None:
        headers = {"api-key": self._api_key} if self._api_key else {}
        try:
            async with (
                aiohttp.ClientSession(timeout=_PROBE_TIMEOUT) as session,
                session.get(f"{self._url}/readyz", headers=headers) as response,
            ):
                if response.status != 200:
                    raise StoreUnavailableError("vectors", reason=f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StoreUnavailableError("vectors", reason=os_reason(exc)) from exc

    def release(self) -> None:
        return None


class DirectoryLock:
    """An exclusive ``flock`` on ``path/.enclava.lock``, taken at once or, with ``lazy``, by
    ``acquire`` at the first use (``--workers N`` without the rag plugin opens the store in
    every worker and never uses it)."""

    def __init__(self, path: Path, *, lazy: bool = False) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self._lazy = lazy
        self._released = False
        self._fd: int | None = None
        if not lazy:
            self.acquire()

    def acquire(self) -> None:
        """Take the lock if not held; StoreUnavailableError when closed or held elsewhere."""
        if self._released:
            raise StoreUnavailableError("vectors", reason="embedded store is closed")
        if self._fd is not None:
            return
        fd = os.open(self.path / ".enclava.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            reason = "embedded data directory is in use by another process"
            raise StoreUnavailableError("vectors", reason=reason) from None
        self._fd = fd

    def probe(self) -> None:
        """StoreUnavailableError unless the lock is held (or still to take) and the directory
        is usable."""
        held = self._fd is not None or (self._lazy and not self._released)
        if not held or not os.access(self.path, os.R_OK | os.W_OK | os.X_OK):
            raise StoreUnavailableError("vectors", reason="embedded data directory unusable")

    def release(self) -> None:
        self._released = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class EmbeddedEngine:
    """qdrant-client's local mode in ``path``, behind a :class:`DirectoryLock`."""

    def __init__(self, path: Path, *, lazy: bool = False) -> None:
        self._lock = DirectoryLock(path, lazy=lazy)

    def connect(self) -> AsyncQdrantClient:
        from qdrant_client import AsyncQdrantClient

        self._lock.acquire()
        try:
            return AsyncQdrantClient(path=str(self._lock.path))
        except RuntimeError as exc:
            reason = "embedded data directory is in use by another process"
            raise StoreUnavailableError("vectors", reason=reason) from exc

    async def probe(self) -> None:
        self._lock.probe()

    def release(self) -> None:
        self._lock.release()
