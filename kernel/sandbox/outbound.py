"""``http-fetch``: outbound HTTP limited to a plugin's allowlist, timeout and size cap.

Redirects are not followed (a redirect could leave the allowlist); hop-by-hop and credential
headers the gateway would add are never forwarded from the guest's request.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec
from yarl import URL

from kernel.http import HttpClients

__all__ = ["FetchAnswer", "FetchRequest", "HttpFetcher", "OutboundRefused"]

_DROPPED = frozenset({"host", "connection", "transfer-encoding", "content-length", "upgrade"})


class OutboundRefused(Exception):
    """The request is not allowed or failed; the message goes back to the guest."""


class FetchRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a guest asks for."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = {}
    body: str | None = None


class FetchAnswer(msgspec.Struct, frozen=True):
    """What the guest gets back (body decoded as UTF-8, invalid bytes replaced)."""

    status: int
    headers: dict[str, str]
    body: str


class HttpFetcher:
    """Fetches for one plugin through the kernel's pooled sessions."""

    def __init__(
        self, http: HttpClients, allow: tuple[str, ...], *, timeout: float, max_bytes: int
    ) -> None:
        self._http = http
        self._allow = frozenset(host.lower() for host in allow)
        self._timeout = timeout
        self._max_bytes = max_bytes

    def _allowed(self, url: URL) -> bool:
        if url.scheme not in ("http", "https") or not url.host or url.user or url.password:
            return False
        host = url.host.lower()
        return host in self._allow if url.is_default_port() else f"{host}:{url.port}" in self._allow

    async def fetch(self, raw: str) -> FetchAnswer:
        """Perform the JSON-encoded request ``raw``; OutboundRefused for anything not allowed."""
        try:
            request = msgspec.json.decode(raw, type=FetchRequest)
            url = URL(request.url)
        except (msgspec.DecodeError, ValueError) as exc:
            raise OutboundRefused(f"bad request: {exc}") from None
        if not self._allowed(url):
            raise OutboundRefused(f"host '{url.host}' is not on this plugin's http allowlist")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        try:
            return await self._send(url, request.method.upper(), headers, request.body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OutboundRefused(f"http-fetch failed: {type(exc).__name__}") from None

    async def _send(
        self, url: URL, method: str, headers: dict[str, str], body: str | None
    ) -> FetchAnswer:
        session = self._http.session(str(url))
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        data: Any = None if body is None else body.encode()
        async with session.request(
            method, url, headers=headers, data=data, timeout=timeout, allow_redirects=False
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(65_536):
                size += len(chunk)
                if size > self._max_bytes:
                    raise OutboundRefused(f"response exceeds {self._max_bytes} bytes")
                chunks.append(chunk)
            return FetchAnswer(
                status=response.status,
                headers={k.lower(): v for k, v in response.headers.items()},
                body=b"".join(chunks).decode("utf-8", "replace"),
            )
