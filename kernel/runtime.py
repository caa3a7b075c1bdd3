"""The Kernel: settings, stores, plugin state and the component snapshot the hot path reads.

Components are rebuilt as a whole and swapped with one assignment, so a request sees either the
old set or the new one. Toggles and runtime settings are persisted in SQL and announced over KV
pub/sub; every replica re-reads SQL on the announcement and at least every
``plugins.resync_seconds``.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import inspect
import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast

import msgspec

from kernel.errors import ConfigError, ConflictError, InvalidRequestError, NotFoundError
from kernel.exchange import ChatFilter, ExchangeGuard, UsageSink
from kernel.http import HttpClients
from kernel.observe import NO_METER, Meter, RequestObserver
from kernel.plugin_state import load_overrides, load_states, save_override, save_state
from kernel.plugins import PluginManager
from kernel.services import Service, ServiceMissingError
from kernel.settings import Settings, apply_overrides
from kernel.stash import Stash
from kernel.storage import migrate
from kernel.storage.kv import Subscription
from kernel.storage.sql import Database
from kernel.storage.stores import Stores, open_stores
from kernel.tasks import TaskSupervisor
from kernel.tracing import NO_TRACER, Tracer
from kernel.types import AuditEvent, AuditSink, Authenticator, BackgroundTask, RequestCheck
from kernel.upstream import Provider, Verifier

__all__ = [
    "CHANGE_CHANNEL",
    "EMBEDDED_RESYNC_SECONDS",
    "Components",
    "Kernel",
    "release_free_heap",
    "resync_interval",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
CHANGE_CHANNEL = "plugins.changed"
MASK = "********"
GC_YOUNG_THRESHOLD = 20_000
"""Allocations between young-generation collections once started (Python's default: 700)."""
Overrides = Mapping[str, Mapping[str, Any]]


def release_free_heap() -> bool:
    """Return the C heap's free pages to the OS (glibc's ``malloc_trim``); False where the C
    library has none (musl, macOS). Boot frees a lot (imports, migrations, plugin discovery) that
    the allocator would otherwise keep mapped: about 15 MiB of idle RSS per worker."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols, libc's among them
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


@dataclass(frozen=True, slots=True)
class Components:
    """Everything enabled plugins contribute, frozen; replaced whole on every change."""

    enabled: frozenset[str] = frozenset()
    authenticators: tuple[Authenticator, ...] = ()
    request_checks: tuple[RequestCheck, ...] = ()
    providers: tuple[Provider, ...] = ()
    verifiers: tuple[Verifier, ...] = ()
    chat_filters: tuple[ChatFilter, ...] = ()
    exchange_guards: tuple[ExchangeGuard, ...] = ()
    usage_sinks: tuple[UsageSink, ...] = ()
    audit_sinks: tuple[AuditSink, ...] = ()
    request_observers: tuple[RequestObserver, ...] = ()
    background_tasks: tuple[tuple[str, BackgroundTask], ...] = ()
    services: Mapping[type[Any], Any] = field(default_factory=lambda: MappingProxyType({}))
    route_model: Callable[..., Any] | None = None
    tracer: Tracer = NO_TRACER
    """The enabled :class:`~kernel.tracing.Tracer` service, else the shared no-op one."""
    meter: Meter = NO_METER
    """The enabled :class:`~kernel.observe.Meter` service, else the shared no-op one."""


EMBEDDED_RESYNC_SECONDS = 1.0
"""With the in-process KV no announcement crosses processes, so a server re-reads plugin state
this often (two small local SQL reads) to apply ``enclava plugins enable|disable`` promptly."""


def resync_interval(settings: Settings) -> float:
    """How often a replica re-reads plugin state: ``plugins.resync_seconds``, at most
    :data:`EMBEDDED_RESYNC_SECONDS` without Redis."""
    configured = settings.kernel.plugins.resync_seconds
    return configured if settings.kernel.redis.url else min(configured, EMBEDDED_RESYNC_SECONDS)


class Kernel:
    """The running core. Created cheaply; ``start()`` opens stores and enables plugins."""

    def __init__(self, settings: Settings, plugins: PluginManager) -> None:
        self.base_settings = settings
        self.settings = settings
        self.plugins = plugins
        self.components = Components()
        self._overrides: Overrides = {}
        self.http = HttpClients()
        self.stash = Stash()
        self._stores: Stores | None = None
        self._tasks = TaskSupervisor()
        self._change_lock = asyncio.Lock()
        self._subscription: Subscription | None = None
        self._started = False
        self._starting: frozenset[str] = frozenset()
        self._resync = BackgroundTask(
            name="plugin-state-resync",
            interval=resync_interval(settings),
            run=self.refresh_plugin_state,
            run_at_start=False,
        )

    @property
    def stores(self) -> Stores:
        if self._stores is None:
            raise RuntimeError("the kernel has not been started")
        return self._stores

    def build_components(self, enabled: frozenset[str]) -> Components:
        """Collect every component hook from the ``enabled`` plugins."""

        def collect(hook: str) -> list[Any]:
            pairs = self.plugins.collect(hook, enabled, kernel=self)
            return [item for _, items in pairs for item in items]

        def by_order(items: list[Any]) -> tuple[Any, ...]:
            return tuple(sorted(items, key=lambda item: item.order))

        tasks = self.plugins.collect("enclava_background_tasks", enabled, kernel=self)
        services = self._services(self.plugins.collect("enclava_services", enabled, kernel=self))
        return Components(
            enabled=enabled,
            authenticators=tuple(collect("enclava_authenticators")),
            request_checks=by_order(collect("enclava_request_checks")),
            providers=tuple(collect("enclava_providers")),
            verifiers=tuple(collect("enclava_attestation_verifiers")),
            chat_filters=by_order(collect("enclava_chat_filters")),
            exchange_guards=by_order(collect("enclava_exchange_guards")),
            usage_sinks=tuple(collect("enclava_usage_sinks")),
            audit_sinks=tuple(collect("enclava_audit_sinks")),
            request_observers=tuple(collect("enclava_request_observers")),
            background_tasks=tuple((plugin, task) for plugin, items in tasks for task in items),
            services=MappingProxyType(services),
            route_model=self.plugins.subset_caller("enclava_route_model", enabled),
            tracer=services.get(Tracer, NO_TRACER),
            meter=services.get(Meter, NO_METER),
        )

    @staticmethod
    def _services(found: list[tuple[str, Any]]) -> dict[type[Any], Any]:
        services: dict[type[Any], Any] = {}
        owners: dict[type[Any], str] = {}
        for plugin, items in found:
            for item in items:
                if not isinstance(item, Service):
                    raise ConfigError(f"plugin '{plugin}' published {item!r}, not a Service")
                if item.contract in owners:
                    raise ConfigError(
                        f"{item.contract.__name__} is provided by both '{owners[item.contract]}'"
                        f" and '{plugin}'"
                    )
                services[item.contract] = item.implementation
                owners[item.contract] = plugin
        return services

    def service(self, contract: type[T]) -> T:
        """The enabled implementation of ``contract`` (a Protocol of :mod:`kernel.services`).

        ServiceMissingError (503) names the plugin that would provide it when it is disabled.
        Before ``start()`` (CLI commands) every registered plugin's services are available, and
        during ``enclava_startup`` those of the plugins being enabled.
        """
        found = self.components.services.get(contract)
        if found is not None:
            return cast(T, found)
        every = self.plugins.collect("enclava_services", self.plugins.names, kernel=self)
        offered = [(p, item) for p, items in every for item in items if item.contract is contract]
        if offered and (not self._started or offered[0][0] in self._starting):
            return cast(T, offered[0][1].implementation)
        raise ServiceMissingError(contract, offered[0][0] if offered else None)

    def provider_regions(self) -> frozenset[str]:
        """Every region a provider plugin is configured for (enabled or not)."""
        found = self.plugins.collect("enclava_provider_regions", self.plugins.names, kernel=self)
        return frozenset(region for _, regions in found for region in regions)

    def route_model(self, request: Any, candidates: Sequence[Any]) -> Sequence[Any]:
        """Candidates as reordered by the first enabled ``enclava_route_model`` that answers."""
        caller = self.components.route_model
        if caller is None:
            return candidates
        result = caller(kernel=self, request=request, candidates=candidates)
        return candidates if result is None else result

    async def audit(self, event: AuditEvent) -> None:
        """Write ``event`` to every audit sink; returns once each has made it durable."""
        for sink in self.components.audit_sinks:
            await sink.write(event)

    async def migrate(self) -> None:
        """Apply kernel and plugin migrations."""
        await migrate.upgrade(self.stores.db, self.plugins.migration_locations())

    async def start(self) -> None:
        """Open stores, migrate, enable plugins, start tasks and listen for changes."""
        self._stores = open_stores(self.settings)
        await self.migrate()
        await self.refresh_plugin_state()
        self._subscription = await self.stores.kv.subscribe(CHANGE_CHANNEL, self._on_change)
        # What boot created lives until shutdown: move it out of the collector's sight, which
        # measured ~17 % less CPU per request under load (bench/gateway.py).
        gc.collect()
        gc.freeze()
        # The hot path leaves no reference cycles (reference counting frees each request), so
        # collections only re-scan the objects of requests in flight: ~2,300 of them per
        # 20 s of load at the default 700, ~5 % of the CPU; at this threshold one or two.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        gc.enable()  # off while the ``enclava`` command booted (kernel/entry.py)
        release_free_heap()

    async def stop(self) -> None:
        """Stop tasks, shut enabled plugins down and close stores."""
        if self._subscription is not None:
            await self._subscription.close()
        await self._tasks.stop()
        await self._call_lifecycle("enclava_shutdown", self.components.enabled)
        self._started = False
        await self.http.close()
        if self._stores is not None:
            await self._stores.close()
            self._stores = None

    async def refresh_plugin_state(self) -> None:
        """Re-read toggles and runtime settings from SQL and apply them if they changed."""
        saved = await load_states(self.stores.db)
        enabled = self.plugins.effective_enabled(saved, self.settings.kernel.plugins.disabled)
        await self._apply(enabled, await load_overrides(self.stores.db))

    async def _apply(self, enabled: frozenset[str], overrides: Overrides) -> None:
        async with self._change_lock:
            previous = self.components.enabled
            if self._started and enabled == previous and overrides == self._overrides:
                return
            self._started = True
            self.settings = self._effective_settings(overrides)
            self._overrides = overrides
            self._starting = enabled
            try:
                await self._call_lifecycle("enclava_startup", enabled - previous)
            finally:
                self._starting = frozenset()
            self.components = self.build_components(enabled)
            await self._call_lifecycle("enclava_shutdown", previous - enabled)
            await self._tasks.sync([*self.components.background_tasks, ("kernel", self._resync)])
            if enabled != previous:
                log.info("plugins enabled: %s", ", ".join(sorted(enabled)))

    def _effective_settings(self, overrides: Overrides) -> Settings:
        try:
            return apply_overrides(self.base_settings, overrides)
        except ConfigError as exc:
            log.error("ignoring runtime settings that no longer validate: %s", exc)
            return self.base_settings

    async def _call_lifecycle(self, hook: str, plugins: Iterable[str]) -> None:
        results = [r for _, r in self.plugins.collect(hook, set(plugins), kernel=self)]
        for index, result in enumerate(results):
            if not inspect.isawaitable(result):
                continue
            try:
                await result
            except BaseException:
                for pending in results[index + 1 :]:
                    if inspect.iscoroutine(pending):
                        pending.close()  # never awaited: close instead of leaking a warning
                raise

    async def _on_change(self, _message: bytes) -> None:
        await self.refresh_plugin_state()

    async def _announce(self, name: str) -> None:
        await self.refresh_plugin_state()
        await self.stores.kv.publish(CHANGE_CHANNEL, name.encode())

    async def refuse_toggle(self, db: Database, name: str, *, enabled: bool) -> None:
        """ConflictError when a plugin's ``enclava_toggle_vetoes`` refuse this toggle."""
        found = self.plugins.collect("enclava_toggle_vetoes", self.plugins.names, kernel=self)
        for _, vetoes in found:
            for veto in vetoes:
                reason = await veto.refusal(db, name, enabled=enabled)
                if reason:
                    raise ConflictError(reason)

    async def set_enabled(self, name: str, *, enabled: bool) -> None:
        """Persist a toggle, apply it here and announce it to every replica."""
        self.plugins.require_toggleable(name, enabled=enabled)
        await self.refuse_toggle(self.stores.db, name, enabled=enabled)
        await save_state(self.stores.db, name, enabled=enabled)
        await self._announce(name)

    async def update_section(self, name: str, values: Mapping[str, Any]) -> msgspec.Struct:
        """Validate and persist runtime values for a plugin's settings section, on every replica.

        Values equal to the mask keep the current secret. Returns the new effective section.
        """
        current = self.settings.sections.get(name)
        if current is None:
            raise NotFoundError(f"No runtime-editable settings section named '{name}'.")
        current_values = msgspec.to_builtins(current)
        unknown = set(values) - set(current_values)
        if unknown:
            raise InvalidRequestError(
                f"Unknown settings key(s) in [{name}]: {', '.join(sorted(unknown))}.",
                param=sorted(unknown)[0],
            )
        changed = {k: v for k, v in values.items() if v != MASK}
        stored = {**self._overrides.get(name, {}), **changed}
        try:
            result = apply_overrides(self.base_settings, {name: stored}).sections[name]
        except ConfigError as exc:
            raise InvalidRequestError(str(exc)) from None
        await save_override(self.stores.db, name, stored)
        await self._announce(name)
        return result
