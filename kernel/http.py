"""The outbound HTTP seam: one pooled aiohttp session per upstream origin.

aiohttp carries upstream traffic because it costs a third of httpx's CPU per request here
(../shared/notes/performance.md). Sessions are created on first use and closed with the kernel.
"""

from __future__ import annotations

import aiohttp
from yarl import URL

__all__ = ["HttpClients"]


class HttpClients:
    """Pooled client sessions keyed by origin (scheme://host:port)."""

    def __init__(self, *, limit_per_host: int = 256, keepalive_timeout: float = 30.0) -> None:
        self._limit_per_host = limit_per_host
        self._keepalive_timeout = keepalive_timeout
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def session(self, base_url: str) -> aiohttp.ClientSession:
        """The shared session for ``base_url``'s origin (created on first use)."""
        origin = str(URL(base_url).origin())
        session = self._sessions.get(origin)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,
                limit_per_host=self._limit_per_host,
                keepalive_timeout=self._keepalive_timeout,
                enable_cleanup_closed=True,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                raise_for_status=False,
                skip_auto_headers=("User-Agent",),
            )
            self._sessions[origin] = session
        return session

    async def close(self) -> None:
        """Close every session (called at kernel shutdown)."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
