"""Apps with only the kernel, the rate_limit plugin and an inline plugin that supplies principals.

``Authorization: Bearer key:<id>[:<limit>]`` is an API key (with its own per-minute limit when
given), ``Bearer user:<id>`` a user; routes on both surfaces cover authenticated, anonymous and
named-bucket handlers.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar, get, post
from support.plugins import kernel_plugins

from kernel.app import create_app
from kernel.errors import InvalidRequestError
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.settings import load_settings
from kernel.types import Principal, RouteSet, Unscoped

OPEN = {"enclava_scope": Unscoped("test route")}


@get("/ping", sync_to_thread=False, opt=OPEN)
def ping() -> dict[str, bool]:
    return {"pong": True}


@get("/fail", sync_to_thread=False, opt=OPEN)
def fail() -> None:
    raise InvalidRequestError("this route always refuses")


@get("/open", sync_to_thread=False, opt={"enclava_anonymous": True, **OPEN})
def open_route() -> dict[str, bool]:
    return {"open": True}


def _named(path: str, bucket: str) -> Any:
    opt = {"enclava_anonymous": True, "enclava_rate_limit": bucket, **OPEN}

    @post(path, sync_to_thread=False, opt=opt)
    def handler() -> dict[str, str]:
        return {"bucket": bucket}

    return handler


def _principal(token: str) -> Principal | None:
    kind, _, rest = token.partition(":")
    ident, _, limit = rest.partition(":")
    if kind == "user":
        return Principal(kind="user", id=ident, owner_id=ident, roles=frozenset({"user"}))
    if kind == "key":
        value: Any = int(limit) if limit.lstrip("-").isdigit() else (limit or None)
        attributes = {"rate_limit_per_minute": value}
        return Principal(kind="api_key", id=ident, owner_id="owner", attributes=attributes)
    return None


class BearerPrincipals:
    name = "bearer-principals"
    surfaces = frozenset({"public", "internal"})

    async def authenticate(self, request: Any) -> Principal | None:
        header = request.headers.get("authorization", "")
        return _principal(header[7:]) if header.startswith("Bearer ") else None


class Principals:
    PLUGIN_NAME = "principals"

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        named = [_named("/login", "login"), _named("/refresh", "refresh")]
        return RouteSet(
            public=[ping, fail, open_route],
            internal=[ping, open_route, *named, _named("/signup", "signup")],
        )

    @hookimpl
    def enclava_authenticators(self, kernel: Kernel) -> list[BearerPrincipals]:
        return [BearerPrincipals()]


AppFactory = Callable[..., Litestar]


@pytest.fixture
def build_app(make_settings: Any, sqlite_url: str, redis_prefix: str) -> AppFactory:
    """``build_app(kv="memory"|"redis", database_url=None, **ENCLAVA_env)``: a fresh app."""

    def build(kv: str = "memory", database_url: str | None = None, **env: str) -> Litestar:
        manager = kernel_plugins(
            importlib.import_module("builtin_plugins.rate_limit"), Principals()
        )
        base = make_settings(
            database_url or sqlite_url, redis_prefix=redis_prefix if kv == "redis" else None
        )
        values = {
            "ENCLAVA_DATA_DIR": base.kernel.data_dir,
            "ENCLAVA_DATABASE_URL": base.kernel.database.url,
            "ENCLAVA_REDIS_URL": base.kernel.redis.url,
            "ENCLAVA_REDIS_PREFIX": base.kernel.redis.prefix,
            "ENCLAVA_PLUGINS_RESYNC_SECONDS": "3600",
            **env,
        }
        settings = load_settings(env=values, plugin_schemas=manager.settings_schemas())
        return create_app(settings, plugins=manager)

    return build


@pytest.fixture
def client_from() -> Callable[[Litestar, str], contextlib.AbstractAsyncContextManager[Any]]:
    """``async with client_from(app, "10.0.0.2") as client``: requests from another IP."""

    @contextlib.asynccontextmanager
    async def open_client(app: Litestar, ip: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client

    return open_client
