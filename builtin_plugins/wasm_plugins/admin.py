"""``/api-internal/v1/wasm-plugins``: list, enable, disable, approve, configure, read logs and
upload and remove sandboxed plugins (admin only; every change audited)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, post, put
from litestar.di import Provide
from litestar.params import FromPath, JSONBody

from builtin_plugins.wasm_plugins.distribute import ArchiveSync
from builtin_plugins.wasm_plugins.endpoints import mount
from builtin_plugins.wasm_plugins.host import PluginStatus, WasmHost, host_of
from builtin_plugins.wasm_plugins.openapi import upload_doc
from builtin_plugins.wasm_plugins.registry import Installed
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import ConflictError, InvalidRequestError
from kernel.gate import request_context
from kernel.openapi import OPERATION_DOC
from kernel.runtime import Kernel
from kernel.sandbox.logs import LogLine
from kernel.sandbox.manifest import ConfigOption, Manifest
from kernel.sandbox.metrics import MetricsSnapshot

__all__ = ["ADMIN_ROUTES", "WasmPluginView"]

_ADMIN = {"enclava_role": "admin"}
_UPLOAD = 256 * 1024 * 1024
"""Bodies the upload route accepts at all; ``max_upload_bytes`` is the configured limit."""
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def provide_host(kernel: NamedDependency[Kernel]) -> WasmHost:
    """The kernel's sandbox host, injected into every admin handler as ``host``."""
    return host_of(kernel)


_HOST = {"host": Provide(provide_host, sync_to_thread=False)}


class WasmPluginView(msgspec.Struct):
    """One sandboxed plugin as admins see it."""

    name: str
    version: str
    description: str
    status: PluginStatus
    enabled: bool
    approved: bool
    sha256: str | None
    permissions_digest: str | None
    manifest: Manifest
    fail_open: bool
    error: str | None
    metrics: MetricsSnapshot | None


class WasmPluginList(msgspec.Struct):
    data: list[WasmPluginView]


class ConfigView(msgspec.Struct):
    plugin: str
    values: dict[str, Any]
    schema: dict[str, ConfigOption]


class LogView(msgspec.Struct):
    plugin: str
    lines: list[LogLine]


class Approval(msgspec.Struct):
    """The digest shown in the plugin's view: approving binds exactly that component and those
    permissions; a changed plugin needs a new approval."""

    permissions_digest: str


def _view(host: WasmHost, installed: Installed) -> WasmPluginView:
    plugin = installed.plugin
    return WasmPluginView(
        name=installed.name,
        version=installed.manifest.version,
        description=installed.manifest.description,
        status=host.status(installed),
        enabled=host.enabled(installed.name),
        approved=host.approved(installed),
        sha256=installed.sha256,
        permissions_digest=installed.digest,
        manifest=installed.manifest,
        fail_open=installed.name in host.settings.fail_open,
        error=installed.error,
        metrics=plugin.metrics.snapshot() if plugin else None,
    )


async def _audit(
    request: Request[Any, Any, Any], host: WasmHost, action: str, name: str, **details: Any
) -> None:
    event = event_from_context(
        request_context(request.scope),
        action=action,
        outcome="success",
        resource_type="wasm_plugin",
        resource_id=name,
        details=details,
    )
    await host.kernel.audit(event)


@get("/wasm-plugins", opt=_ADMIN, dependencies=_HOST)
async def list_wasm_plugins(host: NamedDependency[WasmHost]) -> WasmPluginList:
    """Every sandboxed plugin with its status, grants and metrics on this replica."""
    return WasmPluginList(data=[_view(host, i) for i in host.plugins.values()])


@get("/wasm-plugins/{name:str}", opt=_ADMIN, dependencies=_HOST)
async def get_wasm_plugin(host: NamedDependency[WasmHost], name: FromPath[str]) -> WasmPluginView:
    """One sandboxed plugin."""
    return _view(host, host.installed(name))


async def _toggle(
    request: Request[Any, Any, Any], host: WasmHost, name: str, *, enabled: bool
) -> WasmPluginView:
    installed = host.installed(name)
    await host.set_enabled(name, enabled=enabled)
    await _audit(request, host, "wasm_plugin.enable" if enabled else "wasm_plugin.disable", name)
    return _view(host, installed)


@post("/wasm-plugins/{name:str}/enable", opt=_ADMIN, dependencies=_HOST, status_code=200)
async def enable_wasm_plugin(
    request: Request[Any, Any, Any], host: NamedDependency[WasmHost], name: FromPath[str]
) -> WasmPluginView:
    """Enable on every replica; it runs once its permissions are approved too."""
    return await _toggle(request, host, name, enabled=True)


@post("/wasm-plugins/{name:str}/disable", opt=_ADMIN, dependencies=_HOST, status_code=200)
async def disable_wasm_plugin(
    request: Request[Any, Any, Any], host: NamedDependency[WasmHost], name: FromPath[str]
) -> WasmPluginView:
    """Disable on every replica: its routes answer 404 and its filter stops running."""
    return await _toggle(request, host, name, enabled=False)


@post("/wasm-plugins/{name:str}/approve", opt=_ADMIN, dependencies=_HOST, status_code=200)
async def approve_wasm_plugin(
    request: Request[Any, Any, Any],
    host: NamedDependency[WasmHost],
    name: FromPath[str],
    data: JSONBody[Approval],
) -> WasmPluginView:
    """Approve the component and permissions whose digest the admin was shown."""
    installed = host.installed(name)
    if data.permissions_digest != installed.digest:
        raise ConflictError(f"Plugin '{name}' changed: review it again before approving.")
    await host.approve(installed)
    await _audit(
        request,
        host,
        "wasm_plugin.approve",
        name,
        sha256=installed.sha256,
        http=list(installed.manifest.permissions.http),
        kv=installed.manifest.permissions.kv,
    )
    return _view(host, installed)


@get("/wasm-plugins/{name:str}/config", opt=_ADMIN, dependencies=_HOST)
async def get_wasm_config(host: NamedDependency[WasmHost], name: FromPath[str]) -> ConfigView:
    """The plugin's configuration values and schema."""
    installed = host.installed(name)
    return ConfigView(name, dict(host.config_of(name)), dict(installed.manifest.config))


@put("/wasm-plugins/{name:str}/config", opt=_ADMIN, dependencies=_HOST)
async def put_wasm_config(
    request: Request[Any, Any, Any],
    host: NamedDependency[WasmHost],
    name: FromPath[str],
    data: JSONBody[dict[str, Any]],
) -> ConfigView:
    """Replace the plugin's configuration (validated against its schema) on every replica."""
    installed = host.installed(name)
    schema = installed.manifest.config
    for key, value in data.items():
        option = schema.get(key)
        if option is None:
            raise InvalidRequestError(f"Plugin '{name}' has no config key '{key}'.", param=key)
        wanted = _TYPES[option.type]
        if not isinstance(value, wanted) or (option.type != "boolean" and isinstance(value, bool)):
            raise InvalidRequestError(f"Config key '{key}' must be a {option.type}.", param=key)
    await host.kernel.update_section(
        "wasm_plugins", {"config": {**host.settings.config, name: dict(data)}}
    )
    await _audit(request, host, "wasm_plugin.config", name, fields=sorted(data))
    return ConfigView(name, dict(host.config_of(name)), dict(schema))


@get("/wasm-plugins/{name:str}/logs", opt=_ADMIN, dependencies=_HOST)
async def get_wasm_logs(host: NamedDependency[WasmHost], name: FromPath[str]) -> LogView:
    """The plugin's captured log lines on this replica, oldest first (bounded)."""
    installed = host.installed(name)
    return LogView(name, installed.plugin.logs.lines() if installed.plugin else [])


@post(
    "/wasm-plugins",
    opt={
        **_ADMIN,
        "enclava_media_type": "application/zip",
        "enclava_max_body_bytes": _UPLOAD,
        OPERATION_DOC: upload_doc(),
    },
    request_max_body_size=_UPLOAD,
    dependencies=_HOST,
    status_code=201,
)
async def upload_wasm_plugin(
    request: Request[Any, Any, Any], host: NamedDependency[WasmHost]
) -> WasmPluginView:
    """Install a plugin from a zip of ``plugin.toml`` and its ``.wasm`` (installed disabled;
    compiled, never executed outside the sandbox). The archive is stored in SQL and every
    replica installs it within seconds (``plugins.resync_seconds`` at the latest)."""
    body = await request.body()
    installed = await ArchiveSync.of(host.kernel).upload(body)
    mount(request.app, installed)
    await _audit(
        request,
        host,
        "wasm_plugin.upload",
        installed.name,
        sha256=installed.sha256,
        archive_sha256=installed.archive,
    )
    return _view(host, installed)


@delete("/wasm-plugins/{name:str}", opt=_ADMIN, dependencies=_HOST, status_code=200)
async def remove_wasm_plugin(
    request: Request[Any, Any, Any], host: NamedDependency[WasmHost], name: FromPath[str]
) -> WasmPluginView:
    """Remove an uploaded plugin from every replica (its approval and configuration too);
    409 for a plugin the operator installed in the plugins folder."""
    installed = await ArchiveSync.of(host.kernel).remove(name)
    view = _view(host, installed)
    await _audit(request, host, "wasm_plugin.remove", name, archive_sha256=installed.archive)
    return view


ADMIN_ROUTES = [
    list_wasm_plugins,
    get_wasm_plugin,
    enable_wasm_plugin,
    disable_wasm_plugin,
    approve_wasm_plugin,
    get_wasm_config,
    put_wasm_config,
    get_wasm_logs,
    upload_wasm_plugin,
    remove_wasm_plugin,
]
