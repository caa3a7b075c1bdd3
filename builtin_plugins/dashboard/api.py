"""The dashboard's one way to act: the internal API of this very app, called in process.

The dashboard is a client of ``/api-internal/v1`` (DESIGN §1) with the signed-in user's access
token, so every rule the API enforces — roles, ownership, forced password change, rate limits,
lockout, audit — applies to the pages unchanged; nothing is decided only in the UI. The call
carries the browser's address and request id, so limits and audit records name the real client.
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request

from kernel.gate import request_context

__all__ = ["INTERNAL_PREFIX", "ApiAnswer", "ApiFailure", "InternalApi"]

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

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> ApiAnswer:
        """``method`` ``/api-internal/v1{path}``; the answer whatever its status."""
        headers = dict(self._headers)
        if self.token is not None:
            headers["authorization"] = f"Bearer {self.token}"
        transport = httpx.ASGITransport(app=self._app, client=self._client)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=_BASE_URL) as client:
            response = await client.request(
                method, INTERNAL_PREFIX + path, json=json, params=params, headers=headers
            )
        try:
            body = msgspec.json.decode(response.content) if response.content else None
        except msgspec.DecodeError:
            body = None
        return ApiAnswer(status=response.status_code, body=body)
