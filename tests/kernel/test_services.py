"""Services: plugins publish Protocol implementations, consumers get them by type — in code
and by dependency injection — and a missing one is a 503 naming the plugin."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pytest
from litestar import get
from litestar.params import FromPath
from support.plugins import kernel_plugins

from kernel import NamedDependency, Service, ServiceMissingError, service
from kernel.app import create_app
from kernel.errors import ConfigError
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RouteSet, Unscoped


@runtime_checkable
class Greeting(Protocol):
    def greet(self, name: str) -> str: ...


class English:
    def greet(self, name: str) -> str:
        return f"hello {name}"


class Provider:
    PLUGIN_NAME = "greeting_provider"

    @hookimpl
    def enclava_services(self, kernel: Kernel) -> list[Service]:
        return [Service(contract=Greeting, implementation=English())]


@get(
    "/greet/{name:str}",
    sync_to_thread=False,
    opt={"enclava_scope": Unscoped("test route")},
    dependencies={"greeting": service(Greeting)},
)
def greet(name: FromPath[str], greeting: NamedDependency[Greeting]) -> dict[str, str]:
    return {"text": greeting.greet(name)}


@get("/kernel-name", sync_to_thread=False, opt={"enclava_scope": Unscoped("test route")})
def kernel_name(kernel: NamedDependency[Kernel]) -> dict[str, bool]:
    return {"started": kernel.components.enabled != frozenset()}


class Consumer:
    PLUGIN_NAME = "greeting_consumer"

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        return RouteSet(root=[greet, kernel_name])


async def test_a_service_reaches_handlers_by_injection(
    make_settings: Any, running: Any, database_url: str
) -> None:
    app = create_app(make_settings(database_url), plugins=kernel_plugins(Provider(), Consumer()))
    async with running(app) as client:
        assert (await client.get("/greet/ada")).json() == {"text": "hello ada"}
        assert (await client.get("/kernel-name")).json() == {"started": True}
        schema = (await client.get("/schema/openapi.json")).json()
        parameters = schema["paths"]["/greet/{name}"]["get"].get("parameters", [])
        assert [p["name"] for p in parameters] == ["name"]  # injected objects are not inputs


async def test_a_disabled_provider_is_a_503_naming_it(
    make_settings: Any, running: Any, database_url: str
) -> None:
    settings = make_settings(database_url, ENCLAVA_PLUGINS_DISABLED="greeting_provider")
    app = create_app(settings, plugins=kernel_plugins(Provider(), Consumer()))
    async with running(app) as client:
        response = await client.get("/greet/ada")
        assert response.status_code == 503
        assert response.json()["error"] == {
            "message": "Greeting is provided by the plugin 'greeting_provider', which is disabled.",
            "type": "service_unavailable",
            "param": None,
            "code": "service_unavailable",
        }


async def test_no_provider_at_all_says_so(
    make_settings: Any, running: Any, database_url: str
) -> None:
    app = create_app(make_settings(database_url), plugins=kernel_plugins(Consumer()))
    async with running(app) as client:
        response = await client.get("/greet/ada")
        assert response.status_code == 503
        assert response.json()["error"]["message"] == "No plugin provides Greeting."


def test_before_start_every_registered_service_is_available(make_settings: Any) -> None:
    kernel = Kernel(make_settings(), kernel_plugins(Provider()))
    assert kernel.service(Greeting).greet("cli") == "hello cli"
    with pytest.raises(ServiceMissingError):
        kernel.service(Protocol)


def test_two_providers_of_one_contract_fail(make_settings: Any) -> None:
    class Other(Provider):
        PLUGIN_NAME = "other_provider"

    kernel = Kernel(make_settings(), kernel_plugins(Provider(), Other()))
    with pytest.raises(ConfigError, match="Greeting is provided by both"):
        kernel.build_components(frozenset({"greeting_provider", "other_provider"}))


def test_services_must_be_service_objects(make_settings: Any) -> None:
    class Sloppy:
        PLUGIN_NAME = "sloppy"

        @hookimpl
        def enclava_services(self, kernel: Kernel) -> list[Any]:
            return [English()]

    kernel = Kernel(make_settings(), kernel_plugins(Sloppy()))
    with pytest.raises(ConfigError, match="not a Service"):
        kernel.build_components(frozenset({"sloppy"}))
