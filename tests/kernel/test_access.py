"""Route access declarations: boot refuses undeclared public routes; the gate enforces the
declared scope and model after authentication (inline plugins, the real app)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from support.plugins import kernel_plugins

from kernel.app import create_app
from kernel.errors import ConfigError
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import AuditEvent, Principal, RouteSet, Unscoped

CHAT = {"enclava_scope": "chat", "enclava_model": "body", "enclava_json_body": True}


@post("/chat", status_code=200, opt=CHAT)
async def chat(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(await request.body(), media_type="application/json")


@get("/models/{model_id:path}", opt={"enclava_scope": "list", "enclava_model": "path:model_id"})
async def one_model(model_id: FromPath[str]) -> dict[str, str]:
    return {"id": model_id.lstrip("/")}


@get("/mine", opt={"enclava_scope": Unscoped("the caller's own data")})
async def mine() -> dict[str, bool]:
    return {"ok": True}


@get("/hello", opt={"enclava_scope": "chat", "enclava_anonymous": True})
async def hello() -> dict[str, bool]:
    return {"ok": True}


@get("/undeclared")
async def undeclared() -> dict[str, bool]:
    return {"ok": True}


def _principal(token: str) -> Principal:
    """``scopes=a,b;models=m1,m2`` (``models`` absent: every model)."""
    fields = dict(part.split("=", 1) for part in token.split(";") if "=" in part)
    models = fields.get("models")
    return Principal(
        kind="api_key",
        id="k1",
        owner_id="u1",
        scopes=frozenset(filter(None, fields.get("scopes", "").split(","))),
        allowed_models=frozenset(models.split(",")) if models is not None else None,
    )


class Tokens:
    name = "tokens"
    surfaces = frozenset({"public", "internal"})

    async def authenticate(self, request: Any) -> Principal | None:
        header = request.headers.get("authorization", "")
        return _principal(header[7:]) if header.startswith("Bearer ") else None


class Shop:
    PLUGIN_NAME = "shop"

    def __init__(self, *public: Any) -> None:
        self.public = public or (chat, one_model, mine, hello)
        self.events: list[AuditEvent] = []

    async def write(self, event: AuditEvent) -> None:
        self.events.append(event)

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        return RouteSet(public=list(self.public), internal=[chat, one_model, undeclared])

    @hookimpl
    def enclava_authenticators(self, kernel: Kernel) -> list[Tokens]:
        return [Tokens()]

    @hookimpl
    def enclava_audit_sinks(self, kernel: Kernel) -> list[Shop]:
        return [self]


def key(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def shop() -> Shop:
    return Shop()


@pytest.fixture
def app(make_settings: Any, sqlite_url: str, shop: Shop) -> Any:
    return create_app(make_settings(sqlite_url), plugins=kernel_plugins(shop))


def test_boot_fails_naming_a_public_route_that_declares_no_scope(
    make_settings: Any, sqlite_url: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        create_app(make_settings(sqlite_url), plugins=kernel_plugins(Shop(mine, undeclared)))
    message = str(caught.value)
    assert "GET /api/v1/undeclared (plugin 'shop') declares no enclava_scope" in message
    assert "/api/v1/mine" not in message
    assert "/api-internal/v1/undeclared" not in message  # internal routes are governed by roles


@pytest.mark.parametrize(
    ("opt", "complaint"),
    [
        ({"enclava_scope": ""}, "neither a scope name nor Unscoped"),
        ({"enclava_scope": ["chat"]}, "neither a scope name nor Unscoped"),
        ({"enclava_scope": "chat", "enclava_model": "path:model"}, "enclava_model 'path:model'"),
        ({"enclava_scope": "chat", "enclava_model": "query"}, "enclava_model 'query'"),
    ],
    ids=["empty-scope", "list-scope", "unknown-path-param", "unknown-source"],
)
def test_boot_fails_on_a_malformed_declaration(
    make_settings: Any, sqlite_url: str, opt: dict[str, Any], complaint: str
) -> None:
    @get("/things/{name:str}", opt=opt)
    async def thing(name: FromPath[str]) -> str:
        return name

    with pytest.raises(ConfigError, match=complaint):
        create_app(make_settings(sqlite_url), plugins=kernel_plugins(Shop(thing)))


async def test_a_route_registered_later_without_a_scope_is_refused(app: Any, running: Any) -> None:
    async with running(app) as client:
        app.register(
            Router(
                path="/api/v1",
                route_handlers=[undeclared],
                opt={"enclava_plugin": "shop", "enclava_surface": "public"},
            )
        )
        response = await client.get("/api/v1/undeclared", headers=key("scopes=chat"))
        assert response.status_code == 500
        message = response.json()["error"]["message"]
        assert message == "The route /api/v1/undeclared declares no scope."


async def test_the_declared_scope_is_required_on_the_public_surface(
    app: Any, running: Any, shop: Shop
) -> None:
    async with running(app) as client:
        body = {"model": "m"}
        assert (await client.post("/api/v1/chat", json=body, headers=key("scopes=chat"))).is_success
        refused = await client.post("/api/v1/chat", json=body, headers=key("scopes=list"))
        assert refused.status_code == 403
        assert refused.json()["error"] == {
            "message": "This API key does not have the 'chat' scope.",
            "type": "permission_error",
            "param": None,
            "code": "insufficient_scope",
        }
        assert (await client.get("/api/v1/mine", headers=key("scopes="))).is_success
        assert (await client.get("/api/v1/hello")).is_success  # anonymous: no principal
        assert (await client.get("/api/v1/hello", headers=key("scopes="))).status_code == 403
        # Internal routes are governed by roles: the scope is not checked there.
        response = await client.post("/api-internal/v1/chat", json=body, headers=key("scopes="))
        assert response.is_success
        options = await client.options("/api/v1/chat", headers=key("scopes="))
        assert options.status_code == 204
    denied = [(e.action, e.resource_type, e.resource_id, e.details) for e in shop.events]
    assert denied == [
        ("api_key.denied", "api_key", "k1", {"reason": "insufficient_scope", "scope": "chat"}),
        ("api_key.denied", "api_key", "k1", {"reason": "insufficient_scope", "scope": "chat"}),
    ]


async def test_a_model_named_in_the_body_must_be_allowed(
    app: Any, running: Any, shop: Shop
) -> None:
    restricted = key("scopes=chat;models=m1,m2")
    async with running(app) as client:
        raw = b'{"model": "m2", "messages": [{"role": "user", "content": "hi"}], "x": [1, 2]}'
        headers = {**restricted, "content-type": "application/json"}
        echoed = await client.post("/api/v1/chat", content=raw, headers=headers)
        assert echoed.content == raw  # the handler reads the very bytes the gate decoded
        refused = await client.post("/api/v1/chat", json={"model": "m3"}, headers=restricted)
        assert refused.status_code == 403
        assert refused.json()["error"] == {
            "message": "This API key is not allowed to use the model 'm3'.",
            "type": "permission_error",
            "param": "model",
            "code": "model_not_allowed",
        }
        internal = await client.post(
            "/api-internal/v1/chat", json={"model": "m3"}, headers=restricted
        )
        assert internal.json()["error"]["code"] == "model_not_allowed"  # restrictions follow keys
        for content, param in ((b"{not json", None), (b'{"messages": []}', "model")):
            error = (await client.post("/api/v1/chat", content=content, headers=headers)).json()
            assert (error["error"]["type"], error["error"]["param"]) == (
                "invalid_request_error",
                param,
            )
        # An unrestricted principal's body is never decoded by the gate: the handler gets it as is.
        free = {**key("scopes=chat"), "content-type": "application/json"}
        assert (await client.post("/api/v1/chat", content=b"{not json", headers=free)).is_success
    reasons = [e.details for e in shop.events]
    assert reasons == [{"reason": "model_not_allowed", "model": "m3"}] * 2


async def test_a_model_named_in_the_path_must_be_allowed(app: Any, running: Any) -> None:
    restricted = key("scopes=list;models=org/m1")
    async with running(app) as client:
        allowed = await client.get("/api/v1/models/org/m1", headers=restricted)
        assert allowed.json() == {"id": "org/m1"}
        refused = await client.get("/api/v1/models/org/m2", headers=restricted)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "model_not_allowed")
        free = await client.get("/api/v1/models/org/m2", headers=key("scopes=list"))
        assert free.json() == {"id": "org/m2"}


def test_principals_may_use_every_model_unless_restricted() -> None:
    assert Principal(kind="user", id="u", owner_id="u").may_use_model("anything")
    restricted = Principal(kind="api_key", id="k", owner_id="u", allowed_models=frozenset({"a"}))
    assert restricted.may_use_model("a")
    assert not restricted.may_use_model("b")


async def test_the_401_names_the_credential_each_surface_takes(app: Any, running: Any) -> None:
    async with running(app) as client:
        public = await client.post("/api/v1/chat", json={"model": "m"})
        internal = await client.post("/api-internal/v1/chat", json={"model": "m"})
    assert public.status_code == internal.status_code == 401
    assert "an API key as 'Authorization: Bearer KEY'" in public.json()["error"]["message"]
    assert "access token of POST /api-internal/v1/auth/login" in internal.json()["error"]["message"]
