"""The per-kernel state a plugin keeps between requests, and the KV channel it listens on.

Several plugins (``api_keys``, ``usage``) keep caches that every replica must drop the moment an
admin changes something. They share one shape, kept here so each plugin writes only what is
its own:

* one runtime per kernel (two apps in one process stay apart), created on first use and kept in
  the kernel's stash, never at module level: :meth:`PluginRuntime.of`;
* its typed settings section: :attr:`PluginRuntime.settings` (declared with
  :meth:`PluginRuntime.settings_section`);
* a subscription to the plugin's change channel, opened by :meth:`PluginRuntime.start` and
  closed by :meth:`PluginRuntime.stop` (the plugin's ``enclava_startup``/``enclava_shutdown``);
  a change is applied here first, then published to every replica (:meth:`PluginRuntime.publish`),
  each of which runs :meth:`PluginRuntime.on_changed`.

A plugin subclasses it, names its section, schema and channel, and implements ``on_changed``::

    class UsageRuntime(PluginRuntime[UsageSettings]):
        section = "usage"
        schema = UsageSettings
        channel = "usage.changed"

        async def on_changed(self, message: bytes) -> None: ...
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

import msgspec

from kernel.runtime import Kernel
from kernel.stash import StashKey
from kernel.storage.kv import Subscription
from kernel.types import SettingsSection

__all__ = ["PluginRuntime"]

S = TypeVar("S", bound=msgspec.Struct)


class PluginRuntime(ABC, Generic[S]):
    """Base of a plugin's per-kernel state: settings, stash slot and change channel."""

    section: ClassVar[str]
    """The plugin's settings section (``[section]`` in TOML)."""
    schema: type[S]
    """The section's msgspec schema."""
    channel: ClassVar[str]
    """The KV channel on which changes reach every replica."""
    _stash_key: ClassVar[StashKey[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # One stash slot per runtime class: two plugins' runtimes never share one.
        super().__init_subclass__(**kwargs)
        cls._stash_key = StashKey()

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._subscription: Subscription | None = None

    @classmethod
    def of(cls, kernel: Kernel) -> Self:
        """The runtime of ``kernel``, created on first use and kept in its stash."""
        runtime = kernel.stash.get(cls._stash_key)
        if runtime is None:
            runtime = cls(kernel)
            kernel.stash[cls._stash_key] = runtime
        return cast(Self, runtime)

    @classmethod
    def settings_section(cls) -> SettingsSection:
        """What the plugin's ``enclava_settings_schema`` hook returns."""
        return SettingsSection(name=cls.section, schema=cls.schema)

    @property
    def settings(self) -> S:
        """The plugin's section as in effect now (it changes at runtime)."""
        return self.kernel.settings.section(self.section, self.schema)

    @property
    def listening(self) -> bool:
        """Whether changes from other replicas reach this runtime."""
        return self._subscription is not None

    async def start(self) -> None:
        """Listen for changes announced by any replica (once, however often it is called)."""
        if self._subscription is None:
            self._subscription = await self.kernel.stores.kv.subscribe(
                self.channel, self.on_changed
            )

    async def stop(self) -> None:
        """Stop listening; subclasses then release what is theirs."""
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    async def publish(self, message: bytes) -> None:
        """Send ``message`` to every replica's :meth:`on_changed`, this one's included when it
        listens (apply the change here first: delivery to oneself is not awaited)."""
        await self.kernel.stores.kv.publish(self.channel, message)

    @abstractmethod
    async def on_changed(self, message: bytes) -> None:
        """Apply a change announced on :attr:`channel` (by this replica or another)."""
