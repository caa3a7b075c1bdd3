"""The simulators as the kernel's :class:`~kernel.services.ProviderSimulators`: demo mode runs
them inside the server through this, never by importing this plugin."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

__all__ = ["InProcessSimulators"]


class InProcessSimulators:
    """Runs a simulator app on a loopback port inside the current event loop."""

    @contextlib.asynccontextmanager
    async def serve(self, kind: str, *, host: str, port: int, api_key: str) -> AsyncIterator[str]:
        """Simulator ``kind`` on ``host``:``port`` accepting ``api_key``; yields its base URL."""
        from builtin_plugins.simulators.testing import running_simulator  # loads aiohttp apps

        async with running_simulator(kind, api_key=api_key, host=host, port=port) as handle:
            yield handle.base_url
