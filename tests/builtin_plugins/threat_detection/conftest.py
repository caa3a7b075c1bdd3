"""The real app (every builtin plugin) plus a probe plugin with anonymous routes on both API
surfaces, on SQLite + memory KV and on PostgreSQL + Redis; clients can come from any IP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar, get

from builtin_plugins.audit.filters import parse_filter
from builtin_plugins.audit.store import AuditRecord, AuditStore
from kernel.app import create_app
from kernel.hookspecs import hookimpl
from kernel.plugins import PluginManager
from kernel.settings import Settings
from kernel.types import AuditEvent, RouteSet, Unscoped

ClientContext = contextlib.AbstractAsyncContextManager[httpx.AsyncClient]


@get(
    "/probe",
    sync_to_thread=False,
    opt={"enclava_anonymous": True, "enclava_scope": Unscoped("test probe")},
)
def probe() -> dict[str, bool]:
    return {"ok": True}


class Probe:
    """A plugin with one anonymous route on each API surface."""

    PLUGIN_NAME = "probe"

    @hookimpl
    def enclava_routes(self, kernel: Any) -> RouteSet:
        return RouteSet(public=[probe], internal=[probe])


@pytest.fixture(params=["sqlite+memory", "postgresql+redis"])
def stack(request: pytest.FixtureRequest, make_settings: Any, redis_prefix: str) -> Any:
    """``stack(**env)``: settings on SQLite + memory KV, or on PostgreSQL + Redis."""
    if request.param == "sqlite+memory":
        url, prefix = str(request.getfixturevalue("sqlite_url")), None
    else:
        url, prefix = str(request.getfixturevalue("postgres_url")), redis_prefix

    def build(**env: str) -> Settings:
        return make_settings(url, redis_prefix=prefix, **env)

    return build


def _probe_app(settings: Settings) -> Litestar:
    plugins = PluginManager(extra=(Probe(),), load_entry_points=False)
    return create_app(settings, plugins=plugins)


@pytest.fixture
def probe_app() -> Callable[[Settings], Litestar]:
    """``probe_app(settings)``: every builtin plugin plus the probe."""
    return _probe_app


@pytest.fixture
def make_app(stack: Any) -> Callable[..., Litestar]:
    """``make_app(**env)``: the probe app on this test's stack."""

    def build(**env: str) -> Litestar:
        return _probe_app(stack(**env))

    return build


@pytest.fixture
def client_at() -> Callable[[Litestar, str], ClientContext]:
    """``async with client_at(app, ip) as client``: requests from ``ip`` to a running app."""

    @contextlib.asynccontextmanager
    async def connect(app: Litestar, ip: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client

    return connect


async def _failed_logins(app: Litestar, ip: str, count: int, **fields: Any) -> None:
    for _ in range(count):
        event = AuditEvent(action="auth.login", outcome="failure", ip=ip, **fields)
        await app.state.kernel.audit(event)


@pytest.fixture
def failed_logins() -> Callable[..., Awaitable[None]]:
    """``await failed_logins(app, ip, n, **fields)``: n failed-login events, as auth emits them."""
    return _failed_logins


async def _audit_rows(app: Litestar, action: str, **filters: str) -> list[AuditRecord]:
    page = await AuditStore(app.state.kernel.stores.db).page(
        parse_filter(action=action, **filters), limit=500, offset=0, before_id=None
    )
    return page.data


@pytest.fixture
def audit_rows() -> Callable[..., Awaitable[list[AuditRecord]]]:
    """``await audit_rows(app, action, **filters)``: stored events, newest first."""
    return _audit_rows
