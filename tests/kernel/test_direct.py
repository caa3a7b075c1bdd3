"""Direct routes: served without Litestar's router, answering exactly as through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar import Request, Response, get, post
from litestar.config.cors import CORSConfig
from litestar.params import FromPath
from litestar.types import ASGIApp, Receive, Scope, Send
from support.plugins import BearerGood, kernel_plugins

from kernel.app import create_app
from kernel.direct import DIRECT_OPT, direct_routes
from kernel.errors import ConfigError, InvalidRequestError
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RequestContext, RouteSet, Unscoped

KEY = {"authorization": "Bearer good"}
DIRECT = {"enclava_scope": Unscoped("test route"), DIRECT_OPT: True, "enclava_json_body": True}


@post("/echo", status_code=200, opt=DIRECT)
async def echo(*, request: Request[Any, Any, Any]) -> Response[bytes]:  # as Litestar calls it
    body = await request.body()
    if body == b'"invalid"':
        raise InvalidRequestError("Refused by the handler.", param="body")
    if body == b'"crash"':
        raise RuntimeError("secret-detail")
    ctx: RequestContext = request.scope["state"]["enclava"]
    assert ctx.principal is not None
    ctx.response_headers["x-seen-by"] = ctx.principal.id
    return Response(body, media_type="application/json", headers={"x-echo": "1"})


class Echo:
    PLUGIN_NAME = "echo"

    def __init__(self, *handlers: Any) -> None:
        self.handlers = list(handlers) or [echo]

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        return RouteSet(public=self.handlers)

    @hookimpl
    def enclava_authenticators(self, kernel: Kernel) -> list[BearerGood]:
        return [BearerGood()]


class Routed:
    """Counts the requests that reach Litestar's own ASGI handler (its router)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
def app(make_settings: Any, sqlite_url: str) -> Any:
    settings = make_settings(sqlite_url, ENCLAVA_SERVER_MAX_BODY_BYTES="2048")
    return create_app(settings, plugins=kernel_plugins(Echo()))


@pytest.fixture
def routed(app: Any) -> Routed:
    spy = Routed(app.asgi_handler)
    app.asgi_handler = spy
    return spy


def _json(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**KEY, "content-type": "application/json", **(headers or {})}


async def test_an_opted_in_route_is_served_without_the_router(
    app: Any, routed: Routed, running: Any
) -> None:
    assert set(app.direct) == {("POST", "/api/v1/echo")}
    async with running(app) as client:
        response = await client.post("/api/v1/echo", content=b'{"a":1}', headers=_json())
        assert response.status_code == 200
        assert response.content == b'{"a":1}'
        assert response.headers["x-echo"] == "1"
        assert response.headers["x-seen-by"] == "k1"  # the gate's context, stamped on send
        assert response.headers["x-request-id"].startswith("req_")
        assert routed.calls == 0
        # A path that only normalises to it, and any other method, go through Litestar.
        response = await client.post("/api/v1/echo/", content=b'{"a":1}', headers=_json())
        assert response.status_code == 200
        assert response.content == b'{"a":1}'
        assert (await client.get("/api/v1/echo", headers=KEY)).status_code == 405
        assert routed.calls == 2


@pytest.mark.parametrize("path", ["/api/v1/echo", "/api/v1/echo/"], ids=["direct", "routed"])
@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'"invalid"', _json(), 400, None),
        (b'"crash"', _json(), 500, None),
        (b"{}", _json({"authorization": "Bearer bad"}), 401, "invalid_api_key"),
        (b"{}", _json({"content-type": "text/plain"}), 415, None),
        (b'"' + b"x" * 4096 + b'"', _json(), 413, None),
    ],
    ids=["handler-error", "unexpected", "bad-key", "media-type", "too-large"],
)
async def test_direct_and_routed_answer_alike(
    app: Any,
    running: Any,
    path: str,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    async with running(app) as client:
        response = await client.post(path, content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "secret-detail" not in response.text
    assert "Traceback" not in response.text
    if code is not None:
        assert error["code"] == code
    if status == 400:
        assert error["param"] == "body"


async def test_a_caller_request_id_is_kept(app: Any, running: Any) -> None:
    async with running(app) as client:
        response = await client.post(
            "/api/v1/echo", content=b"{}", headers=_json({"x-request-id": "mine-1"})
        )
    assert response.headers["x-request-id"] == "mine-1"


async def test_an_oversized_chunked_body_is_refused_directly(
    app: Any, routed: Routed, running: Any
) -> None:
    async def chunks() -> Any:
        yield b'"'
        for _ in range(4):
            yield b"x" * 1024
        yield b'"'

    async with running(app) as client:
        response = await client.post("/api/v1/echo", content=chunks(), headers=_json())
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert routed.calls == 0


async def test_an_invalid_host_goes_to_litestar(app: Any, routed: Routed, running: Any) -> None:
    async with running(app) as client:
        response = await client.post(
            "/api/v1/echo", content=b"{}", headers=_json({"host": "bad host\\"})
        )
    assert response.status_code == 400
    assert routed.calls == 1


def _unfit(*handlers: Any) -> Callable[[Any, str], Any]:
    def build(make_settings: Any, sqlite_url: str) -> Any:
        return create_app(make_settings(sqlite_url), plugins=kernel_plugins(Echo(*handlers)))

    return build


@get("/items/{item_id:str}", opt=DIRECT)
async def with_parameter(request: Request[Any, Any, Any], item_id: FromPath[str]) -> str:
    return item_id


@post("/sync", opt=DIRECT, sync_to_thread=False)
def sync_handler(request: Request[Any, Any, Any]) -> str:
    return "sync"


async def _passing(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("never called: the app does not start")


@post("/layered", opt=DIRECT, middleware=[lambda app: _passing])
async def with_middleware(request: Request[Any, Any, Any]) -> str:
    return "layered"


@pytest.mark.parametrize(
    ("handler", "why"),
    [
        (with_parameter, "a path with parameters"),
        (sync_handler, "a sync handler"),
        (with_middleware, "middleware"),
    ],
    ids=["path-parameter", "sync", "middleware"],
)
def test_a_route_that_cannot_be_served_directly_fails_the_boot(
    make_settings: Any, sqlite_url: str, handler: Any, why: str
) -> None:
    with pytest.raises(ConfigError, match=why):
        _unfit(handler)(make_settings, sqlite_url)


def test_an_app_layer_around_every_route_leaves_them_to_litestar(
    make_settings: Any, sqlite_url: str
) -> None:
    app = create_app(make_settings(sqlite_url), plugins=kernel_plugins(Echo()))
    assert direct_routes(app)
    app.cors_config = CORSConfig()
    assert direct_routes(app) == {}
