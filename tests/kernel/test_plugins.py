"""Plugin manager: boot validation, contributions served by the real app, replica toggles."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import httpx
import pytest
from litestar import get
from support.plugins import kernel_plugins

from kernel import hookspecs
from kernel.app import create_app
from kernel.errors import ConfigError, ConflictError, NotFoundError
from kernel.hookspecs import hookimpl
from kernel.plugins import ESSENTIAL, PluginManager
from kernel.runtime import Kernel
from kernel.types import BackgroundTask, Principal, RouteSet, Unscoped


@get("/hello", sync_to_thread=False, opt={"enclava_scope": Unscoped("test route")})
def hello() -> dict[str, str]:
    return {"hello": "world"}


class Anyone:
    name = "anyone"
    surfaces = frozenset({"public", "internal"})

    async def authenticate(self, request: Any) -> Principal | None:
        return Principal(kind="api_key", id="key", owner_id="owner")


class Greeter:
    """A plugin written inline: one public route and an authenticator."""

    PLUGIN_NAME = "greeter"
    VERSION = "1.2.3"

    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        return RouteSet(public=[hello])

    @hookimpl
    def enclava_authenticators(self, kernel: Kernel) -> list[Anyone]:
        return [Anyone()]

    @hookimpl
    async def enclava_startup(self, kernel: Kernel) -> None:
        self.started += 1

    @hookimpl
    def enclava_shutdown(self, kernel: Kernel) -> None:
        self.stopped += 1


def test_every_hook_is_documented_with_its_contract() -> None:
    hooks = [f for name, f in inspect.getmembers(hookspecs) if name.startswith("enclava_")]
    assert len(hooks) >= 14
    for hook in hooks:
        doc = inspect.getdoc(hook) or ""
        assert any(word in doc.lower() for word in ("collect", "firstresult")), hook.__name__
        params = inspect.signature(hook).parameters.values()
        assert all(p.kind is not inspect.Parameter.VAR_POSITIONAL for p in params)


def test_misspelt_hook_fails_boot() -> None:
    class Typo:
        PLUGIN_NAME = "typo"

        @hookimpl
        def enclava_route(self, kernel: Kernel) -> None:  # not a hook
            return None

    with pytest.raises(ConfigError, match="typo"):
        kernel_plugins(Typo())


def test_wrong_hook_argument_fails_boot() -> None:
    class BadArgs:
        PLUGIN_NAME = "bad_args"

        @hookimpl
        def enclava_routes(self, kernal: Kernel) -> None:
            return None

    with pytest.raises(ConfigError, match="bad_args"):
        kernel_plugins(BadArgs())


def test_duplicate_plugin_names_fail_boot() -> None:
    with pytest.raises(ConfigError, match="greeter"):
        kernel_plugins(Greeter(), Greeter())


def test_builtins_are_registered_and_essential_marked() -> None:
    manager = PluginManager()
    assert set(manager.names) >= ESSENTIAL
    info = manager.info("health")
    assert info is not None
    assert info.kind == "builtin"
    assert info.essential


async def test_inline_plugin_route_is_served(
    make_settings: Any, running: Any, database_url: str
) -> None:
    plugin = Greeter()
    app = create_app(make_settings(database_url), plugins=kernel_plugins(plugin))
    async with running(app) as client:
        response = await client.get("/api/v1/hello")
        assert response.status_code == 200
        assert response.json() == {"hello": "world"}
        assert plugin.started == 1
    assert plugin.stopped == 1


async def _wait_for_status(client: httpx.AsyncClient, path: str, status: int) -> None:
    for _ in range(200):
        if (await client.get(path)).status_code == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never answered {status}")


async def test_toggle_reaches_second_replica(
    make_settings: Any, running: Any, database_url: str, redis_prefix: str
) -> None:
    """Two apps on one SQL + Redis: disabling on A makes B answer 404; enabling restores."""
    plugin_a, plugin_b = Greeter(), Greeter()
    app_a = create_app(
        make_settings(database_url, redis_prefix=redis_prefix),
        plugins=kernel_plugins(plugin_a),
    )
    app_b = create_app(
        make_settings(database_url, redis_prefix=redis_prefix),
        plugins=kernel_plugins(plugin_b),
    )
    async with running(app_a) as a, running(app_b) as b:
        assert (await b.get("/api/v1/hello")).status_code == 200
        kernel_a: Kernel = app_a.state.kernel
        await kernel_a.set_enabled("greeter", enabled=False)
        assert (await a.get("/api/v1/hello")).status_code == 404
        await _wait_for_status(b, "/api/v1/hello", 404)
        body = (await b.get("/api/v1/hello")).json()
        assert body["error"]["type"] == "not_found_error"
        assert plugin_b.stopped == 1
        await kernel_a.set_enabled("greeter", enabled=True)
        await _wait_for_status(b, "/api/v1/hello", 200)
        assert plugin_b.started == 2


async def test_disabled_state_survives_restart(
    make_settings: Any, running: Any, database_url: str
) -> None:
    settings = make_settings(database_url)
    app = create_app(settings, plugins=kernel_plugins(Greeter()))
    async with running(app) as client:
        await app.state.kernel.set_enabled("greeter", enabled=False)
        assert (await client.get("/api/v1/hello")).status_code == 404
    plugin = Greeter()
    again = create_app(settings, plugins=kernel_plugins(plugin))
    async with running(again) as client:
        assert (await client.get("/api/v1/hello")).status_code == 404
        assert plugin.started == 0


async def test_settings_can_disable_a_plugin_on_first_boot(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, ENCLAVA_PLUGINS_DISABLED="greeter")
    app = create_app(settings, plugins=kernel_plugins(Greeter()))
    async with running(app) as client:
        assert (await client.get("/api/v1/hello")).status_code == 404
        await app.state.kernel.set_enabled("greeter", enabled=True)
        assert (await client.get("/api/v1/hello")).status_code == 200


async def test_essential_plugins_refuse_to_be_disabled(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    app = create_app(make_settings(sqlite_url))
    async with running(app) as client:
        with pytest.raises(ConflictError):
            await app.state.kernel.set_enabled("health", enabled=False)
        with pytest.raises(NotFoundError):
            await app.state.kernel.set_enabled("no-such-plugin", enabled=False)
        assert (await client.get("/health/live")).status_code == 200


class Components:
    """Contributes one of each component kind, plus a routing preference and a task."""

    PLUGIN_NAME = "components"

    def __init__(self) -> None:
        self.ticks = 0

    class Named:
        def __init__(self, name: str, order: int = 0) -> None:
            self.name = name
            self.order = order
            self.provider_kind = name
            self.surfaces = frozenset({"public"})

    @hookimpl
    def enclava_providers(self, kernel: Kernel) -> list[Any]:
        return [self.Named("privatemode-sim")]

    @hookimpl
    def enclava_attestation_verifiers(self, kernel: Kernel) -> list[Any]:
        return [self.Named("redpill")]

    @hookimpl
    def enclava_chat_filters(self, kernel: Kernel) -> list[Any]:
        return [self.Named("late", 20), self.Named("early", 10)]

    @hookimpl
    def enclava_usage_sinks(self, kernel: Kernel) -> list[Any]:
        return [self.Named("sink")]

    @hookimpl
    def enclava_route_model(self, request: Any, candidates: list[str]) -> list[str] | None:
        return sorted(candidates) if request == "sorted" else None

    @hookimpl
    def enclava_background_tasks(self, kernel: Kernel) -> list[BackgroundTask]:
        async def tick() -> None:
            self.ticks += 1

        return [BackgroundTask(name="tick", interval=0.01, run=tick)]


async def test_components_are_collected_and_dropped_on_disable(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    plugin = Components()
    app = create_app(make_settings(sqlite_url), plugins=kernel_plugins(plugin))
    async with running(app):
        kernel: Kernel = app.state.kernel
        parts = kernel.components
        assert [p.name for p in parts.providers] == ["privatemode-sim"]
        assert [v.provider_kind for v in parts.verifiers] == ["redpill"]
        assert [f.name for f in parts.chat_filters] == ["early", "late"]
        assert [s.name for s in parts.usage_sinks] == ["sink"]
        assert kernel.route_model("sorted", ["b", "a"]) == ["a", "b"]
        assert kernel.route_model("keep", ["b", "a"]) == ["b", "a"]
        await asyncio.sleep(0.1)
        assert plugin.ticks >= 2
        await kernel.set_enabled("components", enabled=False)
        assert kernel.components.providers == ()
        assert kernel.route_model("sorted", ["b", "a"]) == ["b", "a"]
        ticks = plugin.ticks
        await asyncio.sleep(0.05)
        assert plugin.ticks == ticks
