"""How the vectors seam reaches Qdrant: a server over HTTP, or the embedded engine in a directory.

Each engine creates the qdrant-client lazily (``connect``), answers readiness without it
(``probe``) and releases what it holds (``release``).
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

__all__ = ["EmbeddedEngine", "Engine", "ServerEngine"]

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


class EmbeddedEngine:
    """Qdrant local mode in ``path``; an exclusive lock keeps other processes out.

    The lock is taken at open (a second process fails at boot), or with ``lazy`` at the first
    use: ``--workers N`` without the rag plugin opens the store in every worker and never uses it.
    """

    def __init__(self, path: Path, *, lazy: bool = False) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._path = path
        self._lazy = lazy
        self._released = False
        self._lock_fd: int | None = None
        if not lazy:
            self._lock()

    def _lock(self) -> None:
        fd = os.open(self._path / ".enclava.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            reason = "embedded data directory is in use by another process"
            raise StoreUnavailableError("vectors", reason=reason) from None
        self._lock_fd = fd

    def connect(self) -> AsyncQdrantClient:
        from qdrant_client import AsyncQdrantClient

        if self._released:
            raise StoreUnavailableError("vectors", reason="embedded store is closed")
        if self._lock_fd is None:
            self._lock()
        try:
            return AsyncQdrantClient(path=str(self._path))
        except RuntimeError as exc:
            reason = "embedded data directory is in use by another process"
            raise StoreUnavailableError("vectors", reason=reason) from exc

    async def probe(self) -> None:
        held = self._lock_fd is not None or (self._lazy and not self._released)
        if not held or not os.access(self._path, os.R_OK | os.W_OK | os.X_OK):
            raise StoreUnavailableError("vectors", reason="embedded data directory unusable")

    def release(self) -> None:
        self._released = True
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
