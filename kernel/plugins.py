"""The plugin manager: discovery, validation and per-plugin hook collection.

Plugins come from :data:`BUILTIN_PLUGINS` (ordinary imports), the ``enclava.plugins`` entry point
group (pip-installed native plugins, trusted like builtins) and, later, ``plugins/`` (WASM,
untrusted, issue #7). A misspelt hook or a bad signature fails boot (``check_pending``).
Which plugins are enabled is decided by :mod:`kernel.runtime`; this module only answers
"what does each enabled plugin contribute".
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, Literal

import msgspec
import pluggy

from kernel import hookspecs
from kernel.errors import ConfigError, ConflictError, NotFoundError
from kernel.types import SettingsSection

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "ESSENTIAL",
    "TRACE_ENV",
    "PluginInfo",
    "PluginKind",
    "PluginManager",
]

log = logging.getLogger(__name__)

BUILTIN_PLUGINS: tuple[str, ...] = (
    "builtin_plugins.health",
    "builtin_plugins.audit",
    "builtin_plugins.auth",
    "builtin_plugins.api_keys",
    "builtin_plugins.rate_limit",
    "builtin_plugins.threat_detection",
    "builtin_plugins.admin",
    "builtin_plugins.providers.privatemode",
    "builtin_plugins.providers.redpill",
    "builtin_plugins.attestation",
    "builtin_plugins.llm",
    "builtin_plugins.usage",
    "builtin_plugins.chatbots",
    "builtin_plugins.rag",
    "builtin_plugins.wasm_plugins",
    "builtin_plugins.simulators",
    "builtin_plugins.metrics",
    "builtin_plugins.tracing",
    "builtin_plugins.dashboard",
    "builtin_plugins.demo",
)
"""Modules registered as builtin plugins, in registration order."""

ESSENTIAL: frozenset[str] = frozenset({"health", "audit", "auth", "api_keys", "admin"})
"""Plugins that can never be disabled."""

ENTRY_POINT_GROUP = "enclava.plugins"
TRACE_ENV = "ENCLAVA_TRACE_PLUGINS"  # in kernel.settings.PROCESS_VARIABLES
"""Set to 1 to log every hook call: hook, plugins called and elapsed time."""

PluginKind = Literal["builtin", "native", "wasm"]


class PluginInfo(msgspec.Struct, frozen=True):
    """What the manager knows about one registered plugin."""

    name: str
    kind: PluginKind
    version: str
    essential: bool
    description: str = ""


def _plugin_name(plugin: object) -> str:
    name = getattr(plugin, "PLUGIN_NAME", None) or getattr(plugin, "name", None)
    if isinstance(name, str) and name:
        return name
    if isinstance(plugin, ModuleType):
        return plugin.__name__.rsplit(".", 1)[-1]
    raise ConfigError(f"plugin {plugin!r} has no PLUGIN_NAME")


def _describe(plugin: object) -> str:
    doc = (getattr(plugin, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


class HookTrace:
    """pluggy call monitoring that logs each hook call with the plugins it ran and its time."""

    def __init__(self) -> None:
        self._started: list[float] = []

    def callbacks(self) -> tuple[Any, Any]:
        def before(hook_name: str, impls: Sequence[Any], _kwargs: Mapping[str, Any]) -> None:
            self._started.append(time.perf_counter())

        def after(
            outcome: Any, hook_name: str, impls: Sequence[Any], _kwargs: Mapping[str, Any]
        ) -> None:
            elapsed = (time.perf_counter() - self._started.pop()) * 1000
            plugins = ",".join(impl.plugin_name for impl in impls) or "-"
            failed = " failed" if outcome.exception is not None else ""
            log.info("hook %s [%s] %.3f ms%s", hook_name, plugins, elapsed, failed)

        return before, after


class PluginManager:
    """Registers plugins with pluggy and collects their contributions per plugin."""

    def __init__(
        self,
        *,
        builtins: Sequence[str] = BUILTIN_PLUGINS,
        essential: Iterable[str] = ESSENTIAL,
        extra: Sequence[object] = (),
        load_entry_points: bool = True,
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._info: dict[str, PluginInfo] = {}
        self._essential = frozenset(essential)
        for module_name in builtins:
            self._register(importlib.import_module(module_name), "builtin")
        if load_entry_points:
            self._load_entry_points()
        for plugin in extra:
            self._register(plugin, "native")
        self._validate()
        if os.environ.get(TRACE_ENV, "") not in ("", "0"):
            self._pm.add_hookcall_monitoring(*HookTrace().callbacks())

    def _register(self, plugin: object, kind: PluginKind, name: str | None = None) -> None:
        name = name or _plugin_name(plugin)
        if name in self._info:
            raise ConfigError(f"two plugins are named '{name}'")
        version = str(getattr(plugin, "VERSION", None) or getattr(plugin, "version", "0"))
        try:
            self._pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise ConfigError(f"plugin '{name}' is invalid: {exc}") from None
        except ValueError as exc:
            raise ConfigError(f"plugin '{name}' cannot be registered: {exc}") from None
        self._info[name] = PluginInfo(
            name=name,
            kind=kind,
            version=version,
            essential=name in self._essential,
            description=_describe(plugin),
        )

    def _load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                plugin = ep.load()
            except Exception as exc:
                raise ConfigError(f"plugin entry point '{ep.name}' failed to load: {exc}") from exc
            self._register(plugin, "native", name=ep.name)

    def _validate(self) -> None:
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self._pm.get_name(exc.plugin) or repr(exc.plugin)
            raise ConfigError(f"plugin '{name}' is invalid: {exc}") from None
        missing = self._essential - set(self._info)
        if missing:
            raise ConfigError(f"essential plugins are not registered: {sorted(missing)}")

    @property
    def names(self) -> list[str]:
        return list(self._info)

    def info(self, name: str) -> PluginInfo | None:
        return self._info.get(name)

    def all_info(self) -> list[PluginInfo]:
        return list(self._info.values())

    def effective_enabled(
        self, saved: Mapping[str, bool], disabled_by_default: Iterable[str]
    ) -> frozenset[str]:
        """Enabled plugins: essential always; else the saved state, else the kind's default
        (builtin and native on unless listed in ``disabled_by_default``; WASM off)."""
        off = set(disabled_by_default)
        return frozenset(
            info.name
            for info in self._info.values()
            if info.essential or saved.get(info.name, info.kind != "wasm" and info.name not in off)
        )

    def require_toggleable(self, name: str, *, enabled: bool) -> None:
        """NotFoundError for an unknown plugin, ConflictError for disabling an essential one."""
        if name not in self._info:
            raise NotFoundError(f"No plugin named '{name}'.")
        if name in self._essential and not enabled:
            raise ConflictError(f"Plugin '{name}' is essential and cannot be disabled.")

    def collect(self, hook: str, enabled: Iterable[str], **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on each enabled plugin in pluggy's order; ``(plugin, result)`` pairs.

        Each plugin is called through pluggy (a subset hook caller holding that plugin and the
        enabled wrappers of the hook), so wrappers and call monitoring (``ENCLAVA_TRACE_PLUGINS``)
        see every call; a wrapper plugin's own result is not collected.
        """
        allowed = set(enabled)
        impls = getattr(self._pm.hook, hook).get_hookimpls()
        wrappers = {i.plugin_name for i in impls if (i.wrapper or i.hookwrapper)} & allowed
        results: list[tuple[str, Any]] = []
        for impl in reversed(impls):
            if impl.plugin_name not in allowed or impl.plugin_name in wrappers:
                continue
            result = self._subset(hook, {impl.plugin_name, *wrappers})(**kwargs)
            if result:
                results.append((impl.plugin_name, result[0]))
        return results

    def subset_caller(self, hook: str, enabled: Iterable[str]) -> Callable[..., Any] | None:
        """A pluggy caller of ``hook`` over the enabled plugins only (firstresult semantics kept),
        or None when no enabled plugin implements it. Built once per component snapshot."""
        allowed = set(enabled)
        caller = getattr(self._pm.hook, hook)
        if not any(impl.plugin_name in allowed for impl in caller.get_hookimpls()):
            return None
        return self._subset(hook, allowed)

    def _subset(self, hook: str, keep: set[str]) -> Callable[..., Any]:
        others = [p for name, p in self._pm.list_name_plugin() if name not in keep]
        subset: Callable[..., Any] = self._pm.subset_hook_caller(hook, others)
        return subset

    def settings_schemas(self) -> Mapping[str, type[msgspec.Struct]]:
        """Settings sections declared by every registered plugin (enabled or not)."""
        return {name: schema for name, (_, schema) in self._sections().items()}

    def settings_section_of(self, plugin: str) -> str | None:
        """The settings section ``plugin`` declares, or None."""
        return next((n for n, (owner, _) in self._sections().items() if owner == plugin), None)

    def _sections(self) -> dict[str, tuple[str, type[msgspec.Struct]]]:
        sections: dict[str, tuple[str, type[msgspec.Struct]]] = {}
        for plugin, section in self.collect("enclava_settings_schema", self._info):
            if not isinstance(section, SettingsSection):
                raise ConfigError(f"plugin '{plugin}' returned a bad settings schema")
            if section.name in sections:
                raise ConfigError(f"settings section [{section.name}] is declared twice")
            sections[section.name] = (plugin, section.schema)
        return sections

    def migration_locations(self) -> list[str]:
        """Alembic version folders of every registered plugin."""
        return [str(path) for _, path in self.collect("enclava_migrations", self._info)]
