"""The dashboard's one way to act: the internal API of this very app, called in process.

The dashboard is a client of ``/api-internal/v1`` (DESIGN §1) with the signed-in user's access
token, so every rule the API enforces — roles, ownership, forced password change, rate limits,
lockout, audit — applies to the pages unchanged; nothing is decided only in the UI. The call
carries the browser's address and request id, so limits and audit records name the real client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar, Request

from kernel.gate import request_context

if TYPE_CHECKING:  # httpx (~5 MiB with click and rich) loads on the first dashboard call
    import httpx

__all__ = ["INTERNAL_PREFIX", "ApiAnswer", "ApiFailure", "Download", "InternalApi"]

INTERNAL_PREFIX = "/api-internal/v1"
_BASE_URL = "http://enclava.internal"


class ApiAnswer(msgspec.Struct, frozen=True):
    """The status and decoded JSON body of one internal API call."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """The OpenAI-shaped error's message, for showing next to a form."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        return f"The request failed ({self.status})."

    @property
    def param(self) -> str | None:
        """The field the error names, to show the message next to it."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        param = error.get("param") if isinstance(error, dict) else None
        return (
            param.removeprefix("$.").split(".")[0].split("[")[0] if isinstance(param, str) else None
        )


class Download(msgspec.Struct, frozen=True):
    """An export the internal API answered, passed on to the browser as it came."""

    content: bytes
    media_type: str
    disposition: str


class ApiFailure(Exception):
    """The internal API refused or failed in a way a page cannot show inline (e.g. 429, 503)."""

    def __init__(self, answer: ApiAnswer) -> None:
        super().__init__(answer.message)
        self.answer = answer


class InternalApi:
    """Calls the app serving ``request`` as that request's browser would, with ``token``."""

    def __init__(self, request: Request[Any, Any, Any], token: str | None = None) -> None:
        self._app: Litestar = request.app
        client = request.client
        self._client = (client.host, client.port) if client else ("127.0.0.1", 0)
        context = request_context(request.scope)
        self._headers = {"x-request-id": context.request_id} if context else {}
        forwarded = request.headers.get("user-agent")
        if forwarded:
            self._headers["user-agent"] = forwarded
        self.token = token

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        headers = dict(self._headers)
        if self.token is not None:
            headers["authorization"] = f"Bearer {self.token}"
        if content_type is not None:
            headers["content-type"] = content_type
        import httpx

        transport = httpx.ASGITransport(app=self._app, client=self._client)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=_BASE_URL) as client:
            return await client.request(
                method,
                INTERNAL_PREFIX + path,
                json=json,
                params=params,
                content=content,
                headers=headers,
            )

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> ApiAnswer:
        """``method`` ``/api-internal/v1{path}``; the answer whatever its status."""
        response = await self._send(
            method, path, json=json, params=params, content=content, content_type=content_type
        )
        try:
            body = msgspec.json.decode(response.content) if response.content else None
        except msgspec.DecodeError:
            body = None
        return ApiAnswer(status=response.status_code, body=body)

    async def download(self, path: str, params: dict[str, Any]) -> Download:
        """``GET /api-internal/v1{path}`` as bytes (an export); ApiFailure unless it is 2xx."""
        response = await self._send("GET", path, params=params)
        if not 200 <= response.status_code < 300:
            try:
                body = msgspec.json.decode(response.content) if response.content else None
            except msgspec.DecodeError:
                body = None
            raise ApiFailure(ApiAnswer(status=response.status_code, body=body))
        return Download(
            content=response.content,
            media_type=response.headers.get("content-type", "application/octet-stream"),
            disposition=response.headers.get("content-disposition", "attachment"),
        )
