"""Apps with every builtin plugin plus a probe: public routes that declare scopes and models or
call the policy functions, and an audit sink that keeps events in memory.

``stack`` runs each storage-backed test on SQLite with the memory KV and on PostgreSQL with
Redis. ``new_key(app, ...)`` stores a key straight through the plugin's lifecycle code (no login,
no password hashing) for tests of the public side.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, get
from litestar.params import FromPath

from builtin_plugins.api_keys import lifecycle
from builtin_plugins.api_keys.payloads import validated_settings
from builtin_plugins.api_keys.runtime import ApiKeysRuntime
from builtin_plugins.api_keys.store import KeyRecord
from builtin_plugins.auth.users import create_user
from kernel.app import create_app
from kernel.dependencies import NamedDependency, service
from kernel.gate import request_context
from kernel.hookspecs import hookimpl
from kernel.plugins import PluginManager
from kernel.services import KeyPolicy
from kernel.types import AuditEvent, AuditSink, Principal, RouteSet, Unscoped

PROBE_MODELS = ["model-a", "model-b", "model-c"]
OPEN = Unscoped("test probe")


def _principal(request: Request[Any, Any, Any]) -> Principal:
    context = request_context(request.scope)
    assert context is not None
    assert context.principal is not None
    return context.principal


@get("/probe/whoami", opt={"enclava_scope": OPEN})
async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
    principal = _principal(request)
    return {
        "kind": principal.kind,
        "id": principal.id,
        "owner_id": principal.owner_id,
        "scopes": sorted(principal.scopes),
        "allowed_models": sorted(principal.allowed_models or ()),
        "required_region": principal.required_region,
        "attributes": {
            k: list(v) if isinstance(v, tuple) else v for k, v in principal.attributes.items()
        },
    }


@get("/probe/models", opt={"enclava_scope": "models.list"})
async def scoped_models(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    principal = _principal(request)
    return {"data": [model for model in PROBE_MODELS if principal.may_use_model(model)]}


@get("/probe/chat", opt={"enclava_scope": "chat.completions"})
async def scoped_chat() -> dict[str, bool]:
    return {"ok": True}


@get("/test-model/{model:str}", opt={"enclava_scope": OPEN, "enclava_model": "path:model"})
async def model_route(model: FromPath[str]) -> dict[str, str]:
    return {"model": model}


@get(
    "/test-chatbot/{chatbot_id:str}",
    opt={"enclava_scope": OPEN},
    dependencies={"policy": service(KeyPolicy)},
)
async def chatbot_route(
    request: Request[Any, Any, Any], chatbot_id: FromPath[str], policy: NamedDependency[KeyPolicy]
) -> dict[str, str]:
    policy.require_chatbot_allowed(_principal(request), chatbot_id)
    return {"chatbot": chatbot_id}


@get(
    "/test-collection/{collection_id:str}",
    opt={"enclava_scope": OPEN},
    dependencies={"policy": service(KeyPolicy)},
)
async def collection_route(
    request: Request[Any, Any, Any],
    collection_id: FromPath[str],
    policy: NamedDependency[KeyPolicy],
) -> dict[str, str]:
    policy.require_collection_allowed(_principal(request), collection_id)
    return {"collection": collection_id}


class Probe:
    """Public test routes and an in-memory audit sink."""

    PLUGIN_NAME = "api_keys_probe"
    name = "api-keys-probe"

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def write(self, event: AuditEvent) -> None:
        self.events.append(event)

    def actions(self, prefix: str = "api_key.") -> list[tuple[str, str]]:
        return [(e.action, e.outcome) for e in self.events if e.action.startswith(prefix)]

    @hookimpl
    def enclava_routes(self, kernel: Any) -> RouteSet:
        return RouteSet(
            public=[
                whoami,
                scoped_models,
                scoped_chat,
                model_route,
                chatbot_route,
                collection_route,
            ]
        )

    @hookimpl
    def enclava_audit_sinks(self, kernel: Any) -> list[AuditSink]:
        return [self]


@pytest.fixture(params=["sqlite+memory", "postgresql+redis"])
def stack(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(database_url, redis_prefix or None): SQLite with memory KV, PostgreSQL with Redis."""
    if request.param == "sqlite+memory":
        return str(request.getfixturevalue("sqlite_url")), None
    return str(request.getfixturevalue("postgres_url")), str(
        request.getfixturevalue("redis_prefix")
    )


@pytest.fixture
def probe() -> Probe:
    return Probe()


AppFactory = Callable[..., Litestar]


@pytest.fixture
def make_app(make_settings: Any, stack: tuple[str, str | None], probe: Probe) -> AppFactory:
    """``make_app(**ENCLAVA_env)``: every builtin plugin plus the probe, on ``stack``."""
    database_url, redis_prefix = stack

    def build(*, probe_plugin: Probe | None = None, **env: Any) -> Litestar:
        settings = make_settings(database_url, redis_prefix=redis_prefix, **env)
        plugins = PluginManager(extra=[probe_plugin or probe], load_entry_points=False)
        return create_app(settings, plugins=plugins)

    return build


async def _add_user(app: Litestar, role: str = "user") -> str:
    user = await create_user(
        app.state.kernel.stores.db,
        email=f"u-{uuid.uuid4().hex[:10]}@example.com",
        password_hash="not-a-hash",
        role=role,  # type: ignore[arg-type]
    )
    return user.id


@pytest.fixture
def add_user() -> Callable[..., Awaitable[str]]:
    """``await add_user(app, role="user")``: a user inserted directly (no usable password)."""
    return _add_user


NewKey = Callable[..., Awaitable[tuple[str, KeyRecord]]]


@pytest.fixture
def new_key() -> NewKey:
    """``await new_key(app, owner_id=None, **fields)``: (key, record), stored like the API does."""

    async def create(
        app: Litestar, owner_id: str | None = None, **fields: Any
    ) -> tuple[str, KeyRecord]:
        kernel = app.state.kernel
        owner = owner_id or await _add_user(app)
        values = validated_settings(
            {"name": "test key", **fields}, regions=kernel.provider_regions()
        )
        record, key = await lifecycle.create_key(
            kernel.stores.db, ApiKeysRuntime.of(kernel).pepper(), owner_id=owner, fields=values
        )
        return key, record

    return create


@pytest.fixture
def client_from() -> Callable[[Litestar, str], contextlib.AbstractAsyncContextManager[Any]]:
    """``async with client_from(app, "10.0.0.2") as client``: requests from another address
    (the app must already be running)."""

    @contextlib.asynccontextmanager
    async def open_client(app: Litestar, ip: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client

    return open_client
