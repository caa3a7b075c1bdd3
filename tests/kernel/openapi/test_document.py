"""The kernel finishes Litestar's document from what handlers and authenticators declare."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import msgspec
import pytest
from litestar import Request, Response, get, post
from litestar.openapi.spec import SecurityScheme
from litestar.params import FromPath, JSONBody
from openapi_spec_validator import validate
from support.plugins import kernel_plugins

from kernel.app import create_app
from kernel.hookspecs import hookimpl
from kernel.openapi import OPERATION_DOC, Body, OperationDoc, schema_ref
from kernel.runtime import Kernel
from kernel.types import Principal, RouteSet, Unscoped

OPEN = {"enclava_scope": Unscoped("test route")}

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


class Thing(msgspec.Struct):
    name: str


class TokenAuth:
    name = "token"
    surfaces = frozenset({"public"})
    security_schemes = MappingProxyType({"Token": SecurityScheme(type="http", scheme="bearer")})

    async def authenticate(self, request: Any) -> Principal | None:
        return None


class PlainAuth:
    """Authenticates the internal surface, and documents nothing."""

    name = "plain"
    surfaces = frozenset({"internal"})

    async def authenticate(self, request: Any) -> Principal | None:
        return None


@pytest.fixture
def loads() -> list[str]:
    return []


@pytest.fixture
def app(make_settings: Any, sqlite_url: str, loads: list[str]) -> Any:
    def widgets() -> dict[str, Any]:
        loads.append("widgets")
        return {"Widget": {"type": "object", "properties": {"id": {"type": "string"}}}}

    raw_doc = OperationDoc(
        request=Body(content={"application/json": Thing}),
        responses={200: Body(content={"application/json": schema_ref("Widget")})},
        components=widgets,
    )

    @post("/raw", status_code=200, opt={OPERATION_DOC: raw_doc, **OPEN})
    async def raw(request: Request[Any, Any, Any]) -> Response[bytes]:
        return Response(await request.body())

    @post("/signin", status_code=200, opt={"enclava_anonymous": True, **OPEN})
    async def signin(data: JSONBody[Thing]) -> Thing:
        return data

    @get("/things/{name:str}", sync_to_thread=False)
    def thing(name: FromPath[str]) -> Thing:
        return Thing(name)

    class Shop:
        PLUGIN_NAME = "shop"

        @hookimpl
        def enclava_routes(self, kernel: Kernel) -> RouteSet:
            return RouteSet(public=[raw, signin], internal=[thing])

        @hookimpl
        def enclava_authenticators(self, kernel: Kernel) -> list[object]:
            return [TokenAuth(), PlainAuth()]

    return create_app(make_settings(sqlite_url), plugins=kernel_plugins(Shop()))


async def test_declared_bodies_security_and_errors(app: Any, running: Any) -> None:
    async with running(app) as client:
        document = (await client.get("/schema/openapi.json")).json()
    validate(document)
    schemas = document["components"]["schemas"]
    raw = document["paths"]["/api/v1/raw"]["post"]
    assert raw["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
        "required": True,
    }
    assert schemas["Thing"]["properties"] == {"name": {"type": "string"}}
    assert raw["responses"]["200"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}
    }
    assert "Widget" in schemas
    assert raw["security"] == [{"Token": []}]
    assert document["components"]["securitySchemes"] == {
        "Token": {"type": "http", "scheme": "bearer"}
    }
    # the gate checks the credential and the size of a raw body, not its Content-Type
    assert set(raw["responses"]) == {"200", "400", "401", "403", "413", "4XX", "5XX"}
    signin = document["paths"]["/api/v1/signin"]["post"]
    assert "security" not in signin
    assert set(signin["responses"]) == {"200", "400", "403", "413", "415", "4XX", "5XX"}
    thing = document["paths"]["/api-internal/v1/things/{name}"]["get"]
    assert "security" not in thing  # its authenticator documents no scheme
    assert set(thing["responses"]) == {"200", "400", "401", "403", "4XX", "5XX"}
    live = document["paths"]["/health/live"]["get"]
    assert set(live["responses"]) == {"200", "4XX", "5XX"}
    for operation in (raw, signin, thing, live):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert response["content"] == ERROR, status


async def test_document_is_built_on_first_request_then_kept(
    app: Any, running: Any, loads: list[str]
) -> None:
    async with running(app) as client:
        assert loads == []
        first = (await client.get("/schema/openapi.json")).json()
        page = await client.get("/schema")
        again = (await client.get("/schema/openapi.json")).json()
    assert page.status_code == 200
    assert first == again
    assert loads == ["widgets"]


async def test_two_different_schemas_under_one_name_fail_loudly(
    make_settings: Any, sqlite_url: str, running: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clash = OperationDoc(components=lambda: {"Thing": {"type": "string"}})

    @post("/things", opt={OPERATION_DOC: clash})
    async def create(data: JSONBody[Thing]) -> Thing:
        return data

    class Clash:
        PLUGIN_NAME = "clash"

        @hookimpl
        def enclava_routes(self, kernel: Kernel) -> RouteSet:
            return RouteSet(root=[create])

    app = create_app(make_settings(sqlite_url), plugins=kernel_plugins(Clash()))
    async with running(app) as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 500
    assert "two different OpenAPI component schemas are named 'Thing'" in caplog.text
