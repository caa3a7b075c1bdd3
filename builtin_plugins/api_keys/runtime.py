"""Per-kernel state of the plugin: the key cache, usage notes and the invalidation channel.

Each kernel (one per app, so two replicas in one process stay apart) gets its own
:class:`ApiKeysRuntime`, created on first use and kept in its stash
(:class:`~kernel.plugin_runtime.PluginRuntime`). Changes to a key are announced on the KV channel
``api_keys.changed`` with the key's lookup prefix; every replica drops that prefix from its cache.
"""

from __future__ import annotations

import logging

from builtin_plugins.api_keys.cache import KeyCache
from builtin_plugins.api_keys.settings import ApiKeysSettings, load_pepper
from builtin_plugins.api_keys.usage import UsageRecorder
from kernel.plugin_runtime import PluginRuntime
from kernel.runtime import Kernel

__all__ = ["CHANGED_CHANNEL", "SETTINGS_SECTION", "ApiKeysRuntime"]

log = logging.getLogger(__name__)
CHANGED_CHANNEL = "api_keys.changed"
SETTINGS_SECTION = "api_keys"


class ApiKeysRuntime(PluginRuntime[ApiKeysSettings]):
    """The cache, pepper, usage recorder and subscription of one kernel."""

    section = SETTINGS_SECTION
    schema = ApiKeysSettings
    channel = CHANGED_CHANNEL

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self.usage = UsageRecorder()
        self._cache: KeyCache | None = None
        self._pepper: tuple[ApiKeysSettings, bytes] | None = None

    def cache(self) -> KeyCache:
        """The cache for the current settings; a new, empty one when its limits changed."""
        settings = self.settings
        cache = self._cache
        ttl, size = settings.cache_ttl_seconds, settings.cache_max_entries
        if cache is None or (cache.ttl, cache.max_entries) != (ttl, size):
            cache = self._cache = KeyCache(ttl=ttl, max_entries=size)
        return cache

    def pepper(self) -> bytes:
        """The hashing pepper for the current settings."""
        settings = self.settings
        if self._pepper is None or self._pepper[0] is not settings:
            self._pepper = (settings, load_pepper(settings, self.kernel.settings.data_dir))
        return self._pepper[1]

    async def stop(self) -> None:
        """Stop listening, forget cached keys and write pending usage notes."""
        await super().stop()
        if self._cache is not None:
            self._cache.clear()
        try:
            await self.usage.flush(self.kernel.stores.db)
        except Exception:
            log.exception("writing api key last_used_at at shutdown failed")

    async def flush_usage(self) -> None:
        """Write pending ``last_used_at`` notes (the plugin's background task)."""
        await self.usage.flush(self.kernel.stores.db)

    async def announce(self, prefix: str) -> None:
        """Drop ``prefix`` here at once, then from every other replica's cache."""
        if self._cache is not None:
            self._cache.invalidate(prefix)
        await self.publish(prefix.encode())

    async def on_changed(self, message: bytes) -> None:
        """Drop the announced key prefix from this replica's cache."""
        if self._cache is not None:
            self._cache.invalidate(message.decode(errors="replace"))
