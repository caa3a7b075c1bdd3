"""Per-kernel state of the metrics plugin: its families, feeds, meter and model labels."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from builtin_plugins.metrics.feed import HttpObserver, LastErrors, UsageMetrics
from builtin_plugins.metrics.labels import ModelLabels
from builtin_plugins.metrics.meter import EventMeter
from builtin_plugins.metrics.settings import MetricsSettings
from kernel.runtime import Kernel
from kernel.stash import StashKey

if TYPE_CHECKING:
    from builtin_plugins.metrics.families import Families

__all__ = ["SECTION", "MetricsRuntime"]

SECTION = "metrics"
_RUNTIME: StashKey[MetricsRuntime] = StashKey()


class MetricsRuntime:
    """Created on first use and kept in the kernel's stash (never at module level).

    The providers' last errors are always kept (provider status); the Prometheus families and
    what feeds them are built on first use, so a deployment with metrics off never imports
    ``prometheus_client``.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.labels = ModelLabels(kernel)
        self.last_errors = LastErrors()

    @cached_property
    def families(self) -> Families:
        from builtin_plugins.metrics.families import Families

        return Families()

    @cached_property
    def observer(self) -> HttpObserver:
        return HttpObserver(self.families)

    @cached_property
    def usage(self) -> UsageMetrics:
        return UsageMetrics(self.families, self.labels)

    @cached_property
    def meter(self) -> EventMeter:
        return EventMeter(self.families)

    @classmethod
    def of(cls, kernel: Kernel) -> MetricsRuntime:
        runtime = kernel.stash.get(_RUNTIME)
        if runtime is None:
            runtime = cls(kernel)
            kernel.stash[_RUNTIME] = runtime
        return runtime

    @property
    def settings(self) -> MetricsSettings:
        return self.kernel.settings.section(SECTION, MetricsSettings)

    async def exposition(self) -> bytes:
        """The Prometheus text exposition of this kernel (of every worker's counts)."""
        from builtin_plugins.metrics.families import counted_collector
        from builtin_plugins.metrics.scrape import exposition

        return await exposition(self.kernel, counted_collector(self.families), self.labels)
