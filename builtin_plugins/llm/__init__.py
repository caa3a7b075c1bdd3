"""The OpenAI-compatible gateway: routing over TEE providers with failover and circuits."""

from __future__ import annotations

from builtin_plugins.llm.gateway import gateway_for
from builtin_plugins.llm.routes import build_routes
from builtin_plugins.llm.settings import LlmSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import ChatGateway, ProviderCircuits, Service
from kernel.types import BackgroundTask, RouteSet, SettingsSection

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "llm"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    return SettingsSection(name="llm", schema=LlmSettings)


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    gateway = gateway_for(kernel)
    return RouteSet(public=build_routes(gateway), internal=build_routes(gateway))


@hookimpl
async def enclava_startup(kernel: Kernel) -> None:
    await gateway_for(kernel).start()


@hookimpl
async def enclava_shutdown(kernel: Kernel) -> None:
    await gateway_for(kernel).stop()


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> list[BackgroundTask]:
    gateway = gateway_for(kernel)
    return [BackgroundTask(name="circuit-sync", interval=5.0, run=gateway.sync_circuits)]


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    gateway = gateway_for(kernel)
    return [
        Service(contract=ChatGateway, implementation=gateway),
        Service(contract=ProviderCircuits, implementation=gateway),
    ]
