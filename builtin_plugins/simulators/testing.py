"""Run a simulator inside a test's own event loop: ``async with running_simulator("redpill")``.

The app listens on a free loopback port; ``handle.base_url`` is what an OpenAI client takes,
``handle.control`` drives ``/_sim/`` (faults, request log, keyset rotation) over HTTP.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from aiohttp import web

from builtin_plugins.simulators.app import SimulatorOptions
from builtin_plugins.simulators.faults import FaultConfig, RequestRecord
from builtin_plugins.simulators.keys import TEST_API_KEY
from builtin_plugins.simulators.kinds import build_app

__all__ = ["SimulatorControl", "SimulatorHandle", "running_simulator"]


class SimulatorControl:
    """Client of one simulator's ``/_sim/`` routes."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _call(self, method: str, path: str, body: object = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            content = None if body is None else msgspec.json.encode(body)
            response = await client.request(method, path, content=content)
            response.raise_for_status()
            return response.json()

    async def set_faults(self, **fields: Any) -> FaultConfig:
        """Replace the fault config (keywords of :class:`FaultConfig`)."""
        config = FaultConfig(**fields)
        return msgspec.convert(await self._call("POST", "/_sim/faults", config), FaultConfig)

    async def set_upstream_attested(self, model: str, attested: bool) -> None:
        """RedPill only: mark ``model``'s upstream (un)attested (:mod:`.redpill_upstreams`)."""
        await self._call("POST", "/_sim/upstream", {"model": model, "attested": attested})

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/_sim/faults")

    async def faults(self) -> FaultConfig:
        return msgspec.convert(await self._call("GET", "/_sim/faults"), FaultConfig)

    async def requests(self, path: str = "") -> list[RequestRecord]:
        """Requests received so far (oldest first), optionally those under ``path``."""
        data = await self._call("GET", f"/_sim/requests?path={path}")
        return msgspec.convert(data["requests"], list[RequestRecord])

    async def clear_requests(self) -> None:
        await self._call("DELETE", "/_sim/requests")

    async def set_report_mode(self, mode: str) -> None:
        """RedPill only: make legacy reports lie (see ``redpill_signing.REPORT_MODES``)."""
        await self._call("POST", "/_sim/attestation", {"mode": mode})

    async def set_nras(self, **fields: Any) -> None:
        """RedPill only: steer the simulated NRAS (``rogue_key``, ``overall``)."""
        await self._call("POST", "/_sim/nras", fields)

    async def rotate_keyset(self, not_after: int | None = None) -> dict[str, Any]:
        """RedPill only: new aci/1 receipt key; returns the new digest and keyset."""
        body = {} if not_after is None else {"not_after": not_after}
        result: dict[str, Any] = await self._call("POST", "/_sim/aci/rotate", body)
        return result


@dataclass(frozen=True)
class SimulatorHandle:
    """A running simulator: where it listens and how to steer it."""

    kind: str
    url: str
    base_url: str
    api_key: str | None
    control: SimulatorControl
    app: web.Application


@contextlib.asynccontextmanager
async def running_simulator(
    kind: str,
    *,
    api_key: str | None = TEST_API_KEY,
    keyset_ttl_seconds: int = 24 * 3600,
    host: str = "127.0.0.1",
    port: int = 0,
    **faults: Any,
) -> AsyncIterator[SimulatorHandle]:
    """Run simulator ``kind`` on ``host``:``port`` (0 picks a free port) for the block's duration.

    ``faults`` are :class:`FaultConfig` keywords applied from the first request on.
    """
    options = SimulatorOptions(
        api_key=api_key, faults=FaultConfig(**faults), keyset_ttl_seconds=keyset_ttl_seconds
    )
    app = build_app(kind, options)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        url = f"http://{host}:{runner.addresses[0][1]}"
        yield SimulatorHandle(kind, url, f"{url}/v1", api_key, SimulatorControl(url), app)
    finally:
        await runner.cleanup()
