"""Per-kernel state of the metrics plugin: its families, feeds and model labels."""

from __future__ import annotations

from builtin_plugins.metrics.families import Families, counted_collector
from builtin_plugins.metrics.feed import HttpObserver, LastErrors, UsageMetrics
from builtin_plugins.metrics.labels import ModelLabels
from builtin_plugins.metrics.scrape import exposition
from builtin_plugins.metrics.settings import MetricsSettings
from kernel.runtime import Kernel
from kernel.stash import StashKey

__all__ = ["SECTION", "MetricsRuntime"]

SECTION = "metrics"
_RUNTIME: StashKey[MetricsRuntime] = StashKey()


class MetricsRuntime:
    """Created on first use and kept in the kernel's stash (never at module level)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.families = Families()
        self.labels = ModelLabels(kernel)
        self.observer = HttpObserver(self.families)
        self.usage = UsageMetrics(self.families, self.labels)
        self.last_errors = LastErrors()

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
        return await exposition(self.kernel, counted_collector(self.families), self.labels)
