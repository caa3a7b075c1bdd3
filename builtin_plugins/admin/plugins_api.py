"""``/api-internal/v1/plugins``: list, enable, disable, and read or change a plugin's settings."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post, put
from litestar.params import FromPath, JSONBody

from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import NotFoundError
from kernel.gate import request_context
from kernel.runtime import Kernel
from kernel.settings import mask_secrets

__all__ = ["PLUGIN_ROUTES", "PluginView"]


class PluginView(msgspec.Struct):
    """One plugin as the admin API shows it."""

    name: str
    version: str
    kind: str
    enabled: bool
    essential: bool
    description: str
    settings_section: str | None


class PluginList(msgspec.Struct):
    data: list[PluginView]


class PluginConfig(msgspec.Struct):
    """A plugin's effective settings (secrets masked) and their JSON schema."""

    plugin: str
    section: str
    values: dict[str, Any]
    schema: dict[str, Any]


def _view(kernel: Kernel, name: str) -> PluginView:
    info = kernel.plugins.info(name)
    if info is None:
        raise NotFoundError(f"No plugin named '{name}'.")
    return PluginView(
        name=info.name,
        version=info.version,
        kind=info.kind,
        enabled=name in kernel.components.enabled,
        essential=info.essential,
        description=info.description,
        settings_section=kernel.plugins.settings_section_of(name),
    )


@get("/plugins", opt={"enclava_role": "admin"})
async def list_plugins(kernel: NamedDependency[Kernel]) -> PluginList:
    """Every registered plugin with its kind, version and state on this replica."""
    return PluginList(data=[_view(kernel, name) for name in kernel.plugins.names])


async def _toggle(
    request: Request[Any, Any, Any], kernel: Kernel, name: str, *, enabled: bool
) -> PluginView:
    ctx = request_context(request.scope)
    action = "plugin.enable" if enabled else "plugin.disable"
    try:
        await kernel.set_enabled(name, enabled=enabled)
    except Exception:
        await kernel.audit(
            event_from_context(
                ctx, action=action, outcome="failure", resource_type="plugin", resource_id=name
            )
        )
        raise
    await kernel.audit(
        event_from_context(
            ctx, action=action, outcome="success", resource_type="plugin", resource_id=name
        )
    )
    return _view(kernel, name)


@post("/plugins/{name:str}/enable", opt={"enclava_role": "admin"}, status_code=200)
async def enable_plugin(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], name: FromPath[str]
) -> PluginView:
    """Enable a plugin on every replica."""
    return await _toggle(request, kernel, name, enabled=True)


@post("/plugins/{name:str}/disable", opt={"enclava_role": "admin"}, status_code=200)
async def disable_plugin(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], name: FromPath[str]
) -> PluginView:
    """Disable a plugin on every replica (essential plugins refuse with 409)."""
    return await _toggle(request, kernel, name, enabled=False)


def _config(kernel: Kernel, name: str) -> PluginConfig:
    _view(kernel, name)
    section = kernel.plugins.settings_section_of(name)
    if section is None:
        raise NotFoundError(f"Plugin '{name}' has no settings.")
    value = kernel.settings.sections[section]
    return PluginConfig(
        plugin=name,
        section=section,
        values=mask_secrets(msgspec.to_builtins(value)),
        schema=msgspec.json.schema(type(value)),
    )


@get("/plugins/{name:str}/config", opt={"enclava_role": "admin"})
async def get_plugin_config(kernel: NamedDependency[Kernel], name: FromPath[str]) -> PluginConfig:
    """The plugin's effective settings, secrets masked."""
    return _config(kernel, name)


@put("/plugins/{name:str}/config", opt={"enclava_role": "admin"})
async def put_plugin_config(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    name: FromPath[str],
    data: JSONBody[dict[str, Any]],
) -> PluginConfig:
    """Validate and persist new values for the plugin's settings; applies on every replica."""
    section = _config(kernel, name).section
    await kernel.update_section(section, data)
    await kernel.audit(
        event_from_context(
            request_context(request.scope),
            action="plugin.config",
            outcome="success",
            resource_type="plugin",
            resource_id=name,
            details={"fields": sorted(data)},
        )
    )
    return _config(kernel, name)


PLUGIN_ROUTES = [
    list_plugins,
    enable_plugin,
    disable_plugin,
    get_plugin_config,
    put_plugin_config,
]
