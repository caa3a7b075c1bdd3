"""The running host of sandboxed plugins: which are active, and calls with the trap policy.

A plugin is active while it is enabled, its permissions digest is approved (or the operator
lists it in ``auto_enable``) and its component is loaded. A component that fails to load (its
exports do not match its manifest, it does not compile or instantiate) and repeated traps both
disable the plugin on every replica and write an audit event saying why.

The sandbox engine (and with it wasmtime) is created by the first load after start, so a gateway
with no active sandboxed plugin never loads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from builtin_plugins.wasm_plugins.llm import plugin_chat
from builtin_plugins.wasm_plugins.registry import Installed, check_description, discover
from builtin_plugins.wasm_plugins.settings import WasmPluginsSettings
from kernel.audit import event_from_context
from kernel.errors import ConfigError, NotFoundError, ServiceUnavailableError
from kernel.runtime import Kernel
from kernel.sandbox import CallFailed
from kernel.sandbox.logs import LogBuffer
from kernel.sandbox.outbound import HttpFetcher
from kernel.stash import StashKey
from kernel.types import BackgroundTask

if TYPE_CHECKING:
    from wasmtime.component import Component

    from kernel.sandbox import SandboxedPlugin, SandboxEngine
    from kernel.sandbox.imports import HostContext

__all__ = ["HOST_KEY", "PLUGIN_NAME", "SECTION", "PluginStatus", "WasmHost", "host_of"]

log = logging.getLogger(__name__)
PLUGIN_NAME = "wasm_plugins"
SECTION = PLUGIN_NAME
PluginStatus = Literal["active", "disabled", "awaiting_approval", "not_built", "failed", "loading"]


def _compile_verified(engine: SandboxEngine, path: Path, sha256: str) -> Component:
    """Compile ``path`` if it still hashes to ``sha256`` (what discovery saw and was approved)."""
    wasm = path.read_bytes()
    if hashlib.sha256(wasm).hexdigest() != sha256:
        raise ConfigError(f"{path.name} changed since it was discovered")
    return engine.compile(wasm, sha256)


class WasmHost:
    """Discovered plugins of one kernel and the sandbox engine running them."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        reserved = frozenset(kernel.plugins.names)
        self.plugins: dict[str, Installed] = discover(Path(self.settings.directory), reserved)
        self.engine: SandboxEngine | None = None
        self._engine_args: tuple[Path, int] | None = None
        """Cache folder and load threads of the engine; set by start, cleared by stop."""
        self._sync_lock = asyncio.Lock()
        self._failed: set[str] = set()
        """Plugins that failed to load and are not switched off yet."""

    @property
    def settings(self) -> WasmPluginsSettings:
        return self.kernel.settings.section(SECTION, WasmPluginsSettings)

    def installed(self, name: str) -> Installed:
        """The plugin named ``name``; NotFoundError otherwise."""
        installed = self.plugins.get(name)
        if installed is None:
            raise NotFoundError(f"No sandboxed plugin named '{name}'.")
        return installed

    def enabled(self, name: str) -> bool:
        settings = self.settings
        if name in settings.disabled:
            return False
        return name in settings.enabled or name in settings.auto_enable

    def approved(self, installed: Installed) -> bool:
        settings = self.settings
        if installed.name in settings.auto_enable:
            return True
        digest = installed.digest
        return digest is not None and settings.approved.get(installed.name) == digest

    def status(self, installed: Installed) -> PluginStatus:
        if installed.sha256 is None:
            return "not_built"
        if installed.error is not None:
            return "failed"
        if not self.enabled(installed.name):
            return "disabled"
        if not self.approved(installed):
            return "awaiting_approval"
        return "active" if installed.plugin is not None else "loading"

    def background_task(self) -> BackgroundTask:
        """Loads plugins another replica activated (their calls answer 503 until then)."""
        return BackgroundTask(
            name="wasm-plugins-sync", interval=1.0, run=self.sync, run_at_start=False
        )

    def config_of(self, name: str) -> Mapping[str, Any]:
        return self.settings.config.get(name, {})

    async def start(self) -> None:
        """Load the active plugins (compiled once, then cached natively); the engine is created
        by the first of them."""
        settings = self.settings
        cache = Path(settings.cache_dir) if settings.cache_dir else self.kernel.settings.data_dir
        cache = cache if settings.cache_dir else cache / "wasm-cache"
        self._engine_args = (cache, settings.threads)
        # Inside the kernel's startup no setting can be written: the first background sync
        # (within a second) switches off what failed here. It is not served meanwhile.
        await self.sync(switch_off=False)

    async def sync(self, *, switch_off: bool = True) -> None:
        """Load every plugin that became active (on this replica or another) and is not loaded;
        with ``switch_off``, disable every one that failed to load, on every replica.

        Runs at start, after an admin's change and periodically; plugins that never become
        active are never compiled.
        """
        async with self._sync_lock:
            pending = [i for i in self.plugins.values() if self.status(i) == "loading"]
            await asyncio.gather(*(self.load(i) for i in pending))
            self._failed.update(i.name for i in pending if i.error is not None)
            for name in sorted(self._failed) if switch_off else ():
                installed = self.plugins[name]
                if installed.error is not None and self.enabled(name):
                    await self._switch_off(installed, "wasm_plugin.failed", reason=installed.error)
                self._failed.discard(name)  # kept when switching off raised: tried again

    def _started_engine(self) -> SandboxEngine | None:
        """The engine, created (wasmtime imported) on first use; None before start, after stop."""
        if self.engine is None and self._engine_args is not None:
            from kernel.sandbox import SandboxEngine

            cache, threads = self._engine_args
            self.engine = SandboxEngine(cache, threads=threads)
        return self.engine

    async def load(self, installed: Installed) -> None:
        """Compile (off the event loop) and warm one plugin; a failure is kept, not raised."""
        if installed.sha256 is None:
            return
        engine = self._started_engine()
        if engine is None:
            return
        from kernel.sandbox import SandboxedPlugin

        path = installed.folder / installed.manifest.wasm
        plugin: SandboxedPlugin | None = None
        try:
            component = await engine.run(_compile_verified, engine, path, installed.sha256)
            plugin = SandboxedPlugin(
                engine, installed.manifest, component, self._context(installed)
            )
            await plugin.warm()
            check_description(installed.manifest, await plugin.describe())
        except Exception as exc:
            if plugin is not None:
                plugin.close()
            installed.error = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
            log.error("sandboxed plugin '%s' failed to load: %s", installed.name, installed.error)
            return
        installed.error = None
        installed.plugin = plugin

    async def forget(self, name: str) -> None:
        """Unload ``name`` and delete its folder: its routes answer 404 from now on."""
        async with self._sync_lock:  # not while a sync is loading it
            installed = self.plugins.pop(name, None)
            self._failed.discard(name)
        if installed is None:
            return
        if installed.plugin is not None:
            installed.plugin.close()
            installed.plugin = None
        await asyncio.to_thread(shutil.rmtree, installed.folder, ignore_errors=True)

    def _context(self, installed: Installed) -> HostContext:
        from kernel.sandbox.imports import HostContext

        manifest = installed.manifest
        limits = manifest.limits
        return HostContext(
            manifest,
            loop=asyncio.get_running_loop(),
            kv=self.kernel.stores.kv,
            fetcher=HttpFetcher(
                self.kernel.http,
                manifest.permissions.http,
                timeout=limits.http_timeout_ms / 1000,
                max_bytes=limits.http_max_bytes,
            ),
            config=lambda: self.config_of(installed.name),
            logs=LogBuffer(limits.log_lines),
            llm=plugin_chat(self.kernel),
        )

    async def stop(self) -> None:
        """Unload every plugin and stop the engine at once: calls in flight fail, and a thread
        still inside a guest is a daemon that ends by its deadline (it cannot hold the exit)."""
        self._engine_args = None
        for installed in self.plugins.values():
            if installed.plugin is not None:
                installed.plugin.close()
                installed.plugin = None
        if self.engine is not None:
            engine, self.engine = self.engine, None
            engine.close()

    def runnable(self, name: str) -> SandboxedPlugin:
        """The loaded plugin if it is active; NotFoundError while disabled or unapproved."""
        installed = self.installed(name)
        status = self.status(installed)
        if status == "loading":
            raise ServiceUnavailableError(f"Plugin '{name}' is still loading.")
        if status != "active" or installed.plugin is None:
            raise NotFoundError(f"Plugin '{name}' is not available ({status}).")
        return installed.plugin

    async def call(self, name: str, kind: str, payload: str) -> str:
        """One call into an active plugin, counting traps towards auto-disable."""
        plugin = self.runnable(name)
        installed = self.plugins[name]
        meter = self.kernel.components.meter
        started = time.perf_counter()
        try:
            result = await plugin.call(kind, payload)
        except CallFailed as exc:
            meter.plugin_call(name, kind, exc.reason, time.perf_counter() - started)
            plugin.logs.write("error", f"{kind} failed ({exc.reason}): {exc.message}")
            if exc.trapped:
                installed.consecutive_traps += 1
                if installed.consecutive_traps >= self.settings.max_consecutive_traps:
                    await self._auto_disable(installed, exc)
            raise
        meter.plugin_call(name, kind, "ok", time.perf_counter() - started)
        installed.consecutive_traps = 0
        return result

    async def _auto_disable(self, installed: Installed, exc: CallFailed) -> None:
        installed.consecutive_traps = 0
        traps = self.settings.max_consecutive_traps
        await self._switch_off(
            installed, "wasm_plugin.auto_disable", reason=exc.reason, traps=traps
        )

    async def _switch_off(self, installed: Installed, action: str, **details: Any) -> None:
        """Disable ``installed`` on every replica (a persisted toggle) and audit why."""
        log.warning("sandboxed plugin '%s' disabled (%s): %s", installed.name, action, details)
        await self._persist(installed.name, enabled=False)
        await self.kernel.audit(
            event_from_context(
                None,
                action=action,
                outcome="failure",
                resource_type="wasm_plugin",
                resource_id=installed.name,
                details=details,
            )
        )

    async def set_enabled(self, name: str, *, enabled: bool) -> None:
        """Persist the toggle as a runtime setting: applied here and announced to every replica.

        Enabling a plugin that failed to load tries to load it again (once it is approved).
        """
        installed = self.plugins.get(name)
        if enabled and installed is not None:
            installed.error = None
        await self._persist(name, enabled=enabled)
        await self.sync()

    async def _persist(self, name: str, *, enabled: bool) -> None:
        settings = self.settings
        on = [n for n in settings.enabled if n != name]
        off = [n for n in settings.disabled if n != name]
        values = (
            {"enabled": [*on, name], "disabled": off}
            if enabled
            else {"enabled": on, "disabled": [*off, name]}
        )
        await self.kernel.update_section(SECTION, values)

    async def approve(self, installed: Installed) -> str:
        """Approve the plugin's current component and permissions; returns the digest."""
        digest = installed.digest
        if digest is None:
            raise NotFoundError(f"Plugin '{installed.name}' has no built component to approve.")
        await self.kernel.update_section(
            SECTION, {"approved": {**self.settings.approved, installed.name: digest}}
        )
        await self.sync()
        return digest


HOST_KEY: StashKey[WasmHost] = StashKey()


def host_of(kernel: Kernel) -> WasmHost:
    """The kernel's host, created (plugins discovered) on first use."""
    host = kernel.stash.get(HOST_KEY)
    if host is None:
        host = WasmHost(kernel)
        kernel.stash[HOST_KEY] = host
    return host
