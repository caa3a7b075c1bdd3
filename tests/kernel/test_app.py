"""The assembled app: bad input gets OpenAI-shaped errors, surfaces are mounted and guarded."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from litestar import Request, get, post
from litestar.params import JSONBody
from support.plugins import BearerGood, kernel_plugins

from kernel.app import create_app
from kernel.errors import ConfigError
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RequestContext, RouteSet, Unscoped

KEY = {"authorization": "Bearer good"}
OPEN = {"enclava_scope": Unscoped("test route")}


class Item(msgspec.Struct):
    name: str
    count: int = 1


@post("/items", opt=OPEN)
async def create_item(data: JSONBody[Item]) -> Item:
    return data


@get("/whoami", sync_to_thread=False, opt=OPEN)
def whoami(request: Request[Any, Any, Any]) -> dict[str, str]:
    ctx: RequestContext = request.scope["state"]["enclava"]
    assert ctx.principal is not None
    return {"id": ctx.principal.id, "surface": ctx.surface}


@get("/open", sync_to_thread=False, opt={"enclava_anonymous": True, **OPEN})
def open_route() -> dict[str, bool]:
    return {"open": True}


class Refuser:
    name = "refuser"
    order = 10
    phase = "post_auth"
    surfaces = frozenset({"internal"})

    async def check(self, request: Any, context: RequestContext) -> None:
        context.response_headers["x-checked"] = "yes"
        if request.headers.get("x-refuse"):
            from kernel.errors import PermissionDeniedError

            raise PermissionDeniedError("refused by check")


class Bouncer:
    """A pre-auth check: runs before any authenticator sees the request."""

    name = "bouncer"
    order = 1
    phase = "pre_auth"
    surfaces = frozenset({"public", "internal"})

    async def check(self, request: Any, context: RequestContext) -> None:
        assert context.principal is None
        if request.headers.get("x-blocked"):
            from kernel.errors import PermissionDeniedError

            raise PermissionDeniedError("blocked before authentication")


class Shop:
    PLUGIN_NAME = "shop"

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        return RouteSet(public=[create_item, whoami, open_route], internal=[whoami])

    @hookimpl
    def enclava_authenticators(self, kernel: Kernel) -> list[BearerGood]:
        return [BearerGood()]

    @hookimpl
    def enclava_request_checks(self, kernel: Kernel) -> list[Refuser]:
        return [Refuser(), Bouncer()]


@pytest.fixture
def app(make_settings: Any, sqlite_url: str) -> Any:
    settings = make_settings(sqlite_url, ENCLAVA_SERVER_MAX_BODY_BYTES="2048")
    return create_app(settings, plugins=kernel_plugins(Shop()))


def assert_openai_error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == error_type
    assert "Traceback" not in response.text
    return dict(body["error"])


async def test_valid_request_is_served(app: Any, running: Any) -> None:
    async with running(app) as client:
        response = await client.post("/api/v1/items", json={"name": "a"}, headers=KEY)
        assert response.status_code == 201
        assert response.json() == {"name": "a", "count": 1}
        assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error_type"),
    [
        (b"{not json", "application/json", 400, "invalid_request_error"),
        (b'{"name": 3}', "application/json", 400, "invalid_request_error"),
        (b"{}", "application/json", 400, "invalid_request_error"),
        (b'{"name": "a"}', "text/plain", 415, "invalid_request_error"),
        (b'{"name": "a"}', "", 415, "invalid_request_error"),
        (b'{"name": "' + b"x" * 4096 + b'"}', "application/json", 413, "invalid_request_error"),
    ],
    ids=["malformed", "wrong-type", "missing-field", "text-plain", "no-type", "oversized"],
)
async def test_bad_input_gets_openai_error(
    app: Any, running: Any, content: bytes, content_type: str, status: int, error_type: str
) -> None:
    headers = {**KEY, "content-type": content_type} if content_type else dict(KEY)
    async with running(app) as client:
        response = await client.post("/api/v1/items", content=content, headers=headers)
        assert_openai_error(response, status, error_type)


async def test_field_errors_name_the_param(app: Any, running: Any) -> None:
    async with running(app) as client:
        response = await client.post("/api/v1/items", json={"name": 3}, headers=KEY)
        assert assert_openai_error(response, 400, "invalid_request_error")["param"] == "name"
        response = await client.post("/api/v1/items", json={}, headers=KEY)
        assert assert_openai_error(response, 400, "invalid_request_error")["param"] == "name"


async def test_oversized_chunked_body_is_refused(app: Any, running: Any) -> None:
    async def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    headers = {**KEY, "content-type": "application/json"}
    async with running(app) as client:
        response = await client.post("/api/v1/items", content=chunks(), headers=headers)
        assert_openai_error(response, 413, "invalid_request_error")


async def test_unknown_route_and_method(app: Any, running: Any) -> None:
    async with running(app) as client:
        error = assert_openai_error(await client.get("/api/v1/nope"), 404, "not_found_error")
        assert error["message"] == "Invalid URL (GET /api/v1/nope)"
        response = await client.delete("/api/v1/items", headers=KEY)
        assert_openai_error(response, 405, "invalid_request_error")


async def test_public_routes_need_a_principal(app: Any, running: Any) -> None:
    async with running(app) as client:
        response = await client.get("/api/v1/whoami")
        assert_openai_error(response, 401, "authentication_error")
        response = await client.get("/api/v1/whoami", headers={"authorization": "Bearer bad"})
        assert_openai_error(response, 401, "authentication_error")
        response = await client.get("/api/v1/whoami", headers=KEY)
        assert response.json() == {"id": "k1", "surface": "public"}
        assert (await client.get("/api/v1/open")).json() == {"open": True}


async def test_request_checks_run_on_their_surface(app: Any, running: Any) -> None:
    async with running(app) as client:
        internal = await client.get("/api-internal/v1/whoami", headers=KEY)
        assert internal.json() == {"id": "k1", "surface": "internal"}
        assert internal.headers["x-checked"] == "yes"
        public = await client.get("/api/v1/whoami", headers=KEY)
        assert "x-checked" not in public.headers
        refused = await client.get("/api-internal/v1/whoami", headers={**KEY, "x-refuse": "1"})
        assert_openai_error(refused, 403, "permission_error")


async def test_request_id_is_kept_when_sane(app: Any, running: Any) -> None:
    async with running(app) as client:
        response = await client.get("/api/v1/whoami", headers={**KEY, "x-request-id": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"
        response = await client.get("/api/v1/whoami", headers={**KEY, "x-request-id": "a b\x7f"})
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])


async def test_openapi_schema_lists_plugin_routes(app: Any, running: Any) -> None:
    async with running(app) as client:
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/api/v1/items" in schema["paths"]
        assert "/api-internal/v1/whoami" in schema["paths"]
        assert "/health/ready" in schema["paths"]


async def test_pre_auth_checks_run_before_authentication(app: Any, running: Any) -> None:
    async with running(app) as client:
        blocked = await client.get("/api/v1/whoami", headers={"x-blocked": "1"})
        error = assert_openai_error(blocked, 403, "permission_error")
        assert error["message"] == "blocked before authentication"
        assert (await client.get("/health/live", headers={"x-blocked": "1"})).status_code == 200


async def _own_hook(request: Request[Any, Any, Any]) -> None:
    return None


@get("/own-hook", sync_to_thread=False, before_request=_own_hook, opt=OPEN)
def own_hook() -> dict[str, bool]:
    return {"gated": False}


class Bypass:
    PLUGIN_NAME = "bypass"

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        return RouteSet(public=[own_hook])


def test_a_route_replacing_the_gate_fails_boot(make_settings: Any, sqlite_url: str) -> None:
    """The gate is the app's ``before_request``; a layer's own would replace it, unauthenticated."""
    with pytest.raises(ConfigError, match=r"GET /api/v1/own-hook: its own before_request"):
        create_app(make_settings(sqlite_url), plugins=kernel_plugins(Shop(), Bypass()))
