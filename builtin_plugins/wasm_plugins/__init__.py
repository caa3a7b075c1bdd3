"""Sandboxed third-party plugins: WebAssembly components from ``plugins/`` run by the kernel's
sandbox host, contributing endpoints, default actions, cron schedules, chat filters, an admin API
and the ``plugin`` command."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from pathlib import Path

from builtin_plugins.wasm_plugins.admin import ADMIN_ROUTES
from builtin_plugins.wasm_plugins.cli import plugin_command
from builtin_plugins.wasm_plugins.distribute import ArchiveSync
from builtin_plugins.wasm_plugins.endpoints import dynamic_handlers, endpoint_handlers
from builtin_plugins.wasm_plugins.filters import WasmChatFilter
from builtin_plugins.wasm_plugins.host import PLUGIN_NAME, SECTION, host_of
from builtin_plugins.wasm_plugins.schedules import scheduler_of
from builtin_plugins.wasm_plugins.settings import WasmPluginsSettings
from kernel.exchange import ChatFilter
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import BackgroundTask, CliCommand, RouteSet, SettingsSection

__all__ = ["PLUGIN_NAME", "VERSION"]

VERSION = "1.0.0"
_FILTERING = ("active", "loading")


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    return SettingsSection(name=SECTION, schema=WasmPluginsSettings)


@hookimpl
def enclava_migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


async def _start(kernel: Kernel) -> None:
    await host_of(kernel).start()
    archives = ArchiveSync.of(kernel)
    await archives.start()
    await archives.reconcile()  # every plugin uploaded on any replica, before serving


async def _stop(kernel: Kernel) -> None:
    await ArchiveSync.of(kernel).stop()
    await host_of(kernel).stop()


@hookimpl
def enclava_startup(kernel: Kernel) -> Awaitable[None]:
    return _start(kernel)


@hookimpl
def enclava_shutdown(kernel: Kernel) -> Awaitable[None]:
    return _stop(kernel)


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    host = host_of(kernel)
    installed = list(host.plugins.values())
    return RouteSet(
        public=[
            *(h for i in installed for h in endpoint_handlers(i, "public")),
            *dynamic_handlers("public"),
        ],
        internal=[
            *ADMIN_ROUTES,
            *(h for i in installed for h in endpoint_handlers(i, "internal")),
            *dynamic_handlers("internal"),
        ],
    )


@hookimpl
def enclava_chat_filters(kernel: Kernel) -> Sequence[ChatFilter]:
    """The filters of active (or loading) plugins; collected again on every settings change,
    so a plugin that failed to load (and was disabled) drops out at once."""
    host = host_of(kernel)
    fail_open = set(host.settings.fail_open)
    return [
        WasmChatFilter(host, installed, fail_open=installed.name in fail_open)
        for installed in host.plugins.values()
        if installed.manifest.filter is not None and host.status(installed) in _FILTERING
    ]


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> Sequence[BackgroundTask]:
    return [
        host_of(kernel).background_task(),
        scheduler_of(kernel).background_task(),
        *ArchiveSync.of(kernel).background_tasks(),
    ]


@hookimpl
def enclava_cli(kernel: Kernel) -> Sequence[CliCommand]:
    return [plugin_command()]
