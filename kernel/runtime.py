"""The Kernel: settings, stores, plugin state and the component snapshot the hot path reads.

Components are rebuilt as a whole and swapped with one assignment, so a request sees either the
old set or the new one. Toggles are persisted in SQL and announced over KV pub/sub; every replica
re-reads SQL on the announcement and at least every ``plugins.resync_seconds``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kernel.plugin_state import load_states, save_state
from kernel.plugins import PluginManager
from kernel.settings import Settings
from kernel.storage import migrate
from kernel.storage.kv import Subscription
from kernel.storage.stores import Stores, open_stores
from kernel.tasks import TaskSupervisor
from kernel.types import (
    Authenticator,
    BackgroundTask,
    ChatFilter,
    Provider,
    RequestCheck,
    UsageSink,
    Verifier,
)

__all__ = ["Components", "Kernel"]

log = logging.getLogger(__name__)
TOGGLE_CHANNEL = "plugins.toggled"


@dataclass(frozen=True, slots=True)
class Components:
    """Everything enabled plugins contribute, frozen; replaced whole on every change."""

    enabled: frozenset[str] = frozenset()
    authenticators: tuple[Authenticator, ...] = ()
    request_checks: tuple[RequestCheck, ...] = ()
    providers: tuple[Provider, ...] = ()
    verifiers: tuple[Verifier, ...] = ()
    chat_filters: tuple[ChatFilter, ...] = ()
    usage_sinks: tuple[UsageSink, ...] = ()
    background_tasks: tuple[tuple[str, BackgroundTask], ...] = field(default=())


def _flatten(pairs: Iterable[tuple[str, Sequence[Any]]]) -> list[Any]:
    return [item for _, items in pairs for item in items]


class Kernel:
    """The running core. Created cheaply; ``start()`` opens stores and enables plugins."""

    def __init__(self, settings: Settings, plugins: PluginManager) -> None:
        self.settings = settings
        self.plugins = plugins
        self.components = Components()
        self._stores: Stores | None = None
        self._tasks = TaskSupervisor()
        self._toggle_lock = asyncio.Lock()
        self._subscription: Subscription | None = None
        self._started = False
        self._resync = BackgroundTask(
            name="plugin-state-resync",
            interval=settings.kernel.plugins.resync_seconds,
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
            return _flatten(self.plugins.collect(hook, enabled, kernel=self))

        tasks = [
            (plugin, task)
            for plugin, items in self.plugins.collect(
                "enclava_background_tasks", enabled, kernel=self
            )
            for task in items
        ]
        return Components(
            enabled=enabled,
            authenticators=tuple(collect("enclava_authenticators")),
            request_checks=tuple(sorted(collect("enclava_request_checks"), key=lambda c: c.order)),
            providers=tuple(collect("enclava_providers")),
            verifiers=tuple(collect("enclava_attestation_verifiers")),
            chat_filters=tuple(sorted(collect("enclava_chat_filters"), key=lambda f: f.order)),
            usage_sinks=tuple(collect("enclava_usage_sinks")),
            background_tasks=tuple(tasks),
        )

    def route_model(self, request: Any, candidates: Sequence[Any]) -> Sequence[Any]:
        """Candidates as reordered by the first enabled ``enclava_route_model`` that answers."""
        result = self.plugins.first_result(
            "enclava_route_model",
            self.components.enabled,
            kernel=self,
            request=request,
            candidates=candidates,
        )
        return candidates if result is None else result

    async def migrate(self) -> None:
        """Apply kernel and plugin migrations."""
        await migrate.upgrade(self.stores.db, self.plugins.migration_locations())

    async def start(self) -> None:
        """Open stores, migrate, enable plugins, start tasks and listen for toggles."""
        self._stores = open_stores(self.settings)
        await self.migrate()
        await self._apply(await self._desired_enabled())
        self._subscription = await self.stores.kv.subscribe(TOGGLE_CHANNEL, self._on_toggle)

    async def stop(self) -> None:
        """Stop tasks, shut enabled plugins down and close stores."""
        if self._subscription is not None:
            await self._subscription.close()
        await self._tasks.stop()
        await self._call_lifecycle("enclava_shutdown", self.components.enabled)
        self._started = False
        if self._stores is not None:
            await self._stores.close()
            self._stores = None

    async def _desired_enabled(self) -> frozenset[str]:
        saved = await load_states(self.stores.db)
        return self.plugins.effective_enabled(saved, self.settings.kernel.plugins.disabled)

    async def _apply(self, enabled: frozenset[str]) -> None:
        async with self._toggle_lock:
            previous = self.components.enabled
            if self._started and enabled == previous:
                return
            self._started = True
            await self._call_lifecycle("enclava_startup", enabled - previous)
            self.components = self.build_components(enabled)
            await self._call_lifecycle("enclava_shutdown", previous - enabled)
            await self._tasks.sync([*self.components.background_tasks, ("kernel", self._resync)])
            if enabled != previous:
                log.info("plugins enabled: %s", ", ".join(sorted(enabled)))

    async def _call_lifecycle(self, hook: str, plugins: Iterable[str]) -> None:
        for plugin, result in self.plugins.collect(hook, set(plugins), kernel=self):
            if inspect.isawaitable(result):
                await result
            log.debug("%s ran for %s", hook, plugin)

    async def refresh_plugin_state(self) -> None:
        """Re-read plugin state from SQL and apply it if it changed."""
        await self._apply(await self._desired_enabled())

    async def _on_toggle(self, _message: bytes) -> None:
        await self.refresh_plugin_state()

    async def set_enabled(self, name: str, *, enabled: bool) -> None:
        """Persist a toggle, apply it here and announce it to every replica."""
        self.plugins.require_toggleable(name, enabled=enabled)
        await save_state(self.stores.db, name, enabled=enabled)
        await self.refresh_plugin_state()
        await self.stores.kv.publish(TOGGLE_CHANNEL, name.encode())
