"""The http scope the gateway builds for its own app reaches a handler as a server's would."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, post

from kernel.asgi import http_scope


async def test_a_built_scope_reaches_the_handler_with_its_method_path_headers_and_client() -> None:
    @post("/echo", status_code=200)
    async def echo(request: Request[Any, Any, Any]) -> dict[str, Any]:
        client = request.client
        return {
            "path": request.url.path,
            "agent": request.headers.get("user-agent"),
            "client": [client.host, client.port] if client else None,
            "body": (await request.body()).decode(),
        }

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"hi", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"enclava.internal"), (b"user-agent", b"probe/1")]
    scope = http_scope("POST", "/echo", headers, client=("10.0.0.7", 4242))
    await Litestar([echo])(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert body == b'{"path":"/echo","agent":"probe/1","client":["10.0.0.7",4242],"body":"hi"}'
