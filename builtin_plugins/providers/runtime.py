"""Per-kernel provider instances, shared by the ``enclava_providers``,
``enclava_provider_regions`` and ``enclava_background_tasks`` hooks of a provider plugin: each
plugin declares one :class:`ProviderSpec` and its hooks are one-line calls of the helpers here.

Components are rebuilt whenever any plugin or setting changes. A provider is kept (with its
discovered models, so the router's index stays valid) while its settings section is unchanged,
and rebuilt otherwise; each rebuild gets a new discovery task name, so the kernel restarts the
loop and the new instance discovers at once. State lives in ``kernel.stash``, never in modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from builtin_plugins.providers.base import HttpProvider
from builtin_plugins.providers.settings import ProviderSettings, read_api_key
from kernel.errors import ConfigError
from kernel.runtime import Kernel
from kernel.stash import StashKey
from kernel.types import BackgroundTask
from kernel.upstream import Provider

__all__ = [
    "Built",
    "ProviderSpec",
    "current_provider",
    "discovery_tasks",
    "provider_regions",
    "providers_of",
]

log = logging.getLogger(__name__)
S = TypeVar("S", bound=ProviderSettings)


@dataclass(frozen=True, slots=True)
class Built(Generic[S]):
    """The provider built from ``settings`` (None when they leave it inactive)."""

    settings: S
    provider: HttpProvider | None
    generation: int


def _enabled(settings: ProviderSettings) -> bool:
    return settings.enabled


@dataclass(frozen=True, slots=True)
class ProviderSpec(Generic[S]):
    """How one provider plugin builds its provider: section name, schema, the provider class
    (called as ``provider(settings, api_key=..., http=..., tracer=...)``) and when it is active
    (default: ``enabled``)."""

    name: str
    schema: type[S]
    provider: Callable[..., HttpProvider]
    active: Callable[[S], bool] = _enabled
    slot: StashKey[Built[S]] = field(default_factory=StashKey)


def current_provider(kernel: Kernel, spec: ProviderSpec[S]) -> HttpProvider | None:
    """The provider for the kernel's current settings; built (key file read) when they changed.

    An unreadable key file raises :class:`~kernel.errors.ConfigError` at boot; after boot (a
    runtime settings change) the running provider is kept and the problem logged.
    """
    settings = kernel.settings.section(spec.name, spec.schema)
    built = kernel.stash.get(spec.slot)
    if built is not None and built.settings == settings:
        return built.provider
    provider = None
    if settings.enabled and not spec.active(settings):
        log.warning(
            "%s: not started: no API key (set ENCLAVA_%s_API_KEY or [%s] api_key_file, or "
            "[%s] enabled = false to silence this)",
            *(spec.name, spec.name.upper(), spec.name, spec.name),
        )
    if spec.active(settings):
        try:
            api_key = read_api_key(settings)
        except ConfigError as exc:
            if built is None:
                raise
            log.error("%s: keeping the running provider: %s", spec.name, exc)
            return built.provider
        provider = spec.provider(
            settings, api_key=api_key, http=kernel.http, tracer=lambda: kernel.components.tracer
        )
    generation = 1 if built is None else built.generation + 1
    kernel.stash[spec.slot] = Built(settings, provider, generation)
    return provider


def discovery_tasks(kernel: Kernel, spec: ProviderSpec[S]) -> list[BackgroundTask]:
    """The model-discovery task of the current provider (none when inactive)."""
    provider = current_provider(kernel, spec)
    built = kernel.stash.get(spec.slot)
    if provider is None or built is None:
        return []
    return [
        BackgroundTask(
            name=f"model-discovery-{built.generation}",
            interval=built.settings.discovery_interval_seconds,
            run=provider.refresh,
        )
    ]


def providers_of(kernel: Kernel, spec: ProviderSpec[S]) -> list[Provider]:
    """``enclava_providers``: the current provider, or none while inactive."""
    provider = current_provider(kernel, spec)
    return [] if provider is None else [provider]


def provider_regions(kernel: Kernel, spec: ProviderSpec[S]) -> list[str]:
    """``enclava_provider_regions``: the configured ``region`` (keys may require it even while
    the provider is off)."""
    return [kernel.settings.section(spec.name, spec.schema).region]
