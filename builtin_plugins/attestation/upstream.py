"""The attestation plugin's HTTP calls, through the kernel's one aiohttp seam.

Every call has a total timeout, never follows redirects and turns any failure (transport error,
non-200 answer) into :class:`AttestationRejected`, so callers fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import msgspec

from builtin_plugins.attestation.verdicts import AttestationRejected
from kernel.http import HttpClients

__all__ = ["EvidenceClient"]


class EvidenceClient:
    """GETs and POSTs evidence; ``what`` names the endpoint in failure reasons."""

    def __init__(self, http: HttpClients, timeout: float) -> None:
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        api_key: str = "",
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> bytes:
        """The body of a 200 answer to ``method url``."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._http.session(url, pinned=False).request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AttestationRejected(f"{what} unavailable ({type(exc).__name__})") from None
        if response.status != 200:
            raise AttestationRejected(f"{what} answered HTTP {response.status}")
        return body

    async def json(self, url: str, *, what: str) -> dict[str, Any]:
        """A JSON object served at ``url``."""
        body = await self.request("GET", url, what=what)
        try:
            return msgspec.json.decode(body, type=dict[str, Any])
        except msgspec.DecodeError:
            raise AttestationRejected(f"{what} is not a JSON object") from None
