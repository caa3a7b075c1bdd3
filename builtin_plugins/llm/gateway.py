"""The gateway object the llm plugin's handlers share: router, circuits, lifecycle."""

from __future__ import annotations

from builtin_plugins.llm.circuit import CircuitBreaker
from builtin_plugins.llm.router import Router
from builtin_plugins.llm.settings import LlmSettings
from kernel.runtime import Kernel
from kernel.stash import StashKey

__all__ = ["GATEWAY", "Gateway"]


class Gateway:
    """Created with the app's routes; started and stopped with the plugin."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._router: Router | None = None
        self._breaker: CircuitBreaker | None = None

    @property
    def router(self) -> Router:
        if self._router is None:
            raise RuntimeError("the llm plugin has not started")
        return self._router

    def settings(self) -> LlmSettings:
        return self.kernel.settings.section("llm", LlmSettings)

    async def start(self) -> None:
        self._breaker = CircuitBreaker(self.kernel.stores.kv, self.settings)
        await self._breaker.start()
        self._router = Router(self.kernel, self._breaker)

    async def sync_circuits(self) -> None:
        """Background task: pick up circuits opened elsewhere."""
        if self._breaker is not None:
            await self._breaker.sync([p.name for p in self.kernel.components.providers])

    async def stop(self) -> None:
        if self._breaker is not None:
            await self._breaker.stop()
        self._router = self._breaker = None


GATEWAY: StashKey[Gateway] = StashKey()
