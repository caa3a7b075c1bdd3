"""Client load for the chaos test: closed-loop chat senders per replica, phases, recovery probes.

Every request is recorded with the phase it started in, the replica and key it used, its status
(0 for a transport error: connection refused or reset while a replica is down), whether a 503
carried ``Retry-After``, its latency, and the gateway's ``x-request-id`` (matched later against
the usage records in SQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

__all__ = ["Fault", "Load", "Phase", "Result", "breakdown", "render_table"]

SENDERS_PER_REPLICA = 3
PAUSE_S = 0.02
PROBE_EVERY_S = 0.05
RECOVERY_WAIT_S = 30.0
SETTLE_S = 1.0


@dataclass(frozen=True)
class Result:
    phase: str
    replica: int
    key: str
    status: int
    retry_after: bool
    latency: float
    ended: float
    request_id: str
    code: str = ""


@dataclass
class Phase:
    name: str
    store: bool = False
    recovery: float | None = None
    results: list[Result] = field(default_factory=list)


def _error_code(response: httpx.Response) -> str:
    """``error.code`` (else ``error.type``) of an OpenAI-shaped error answer."""
    try:
        error = response.json().get("error", {})
        code = str(error.get("code") or error.get("type") or "")
        return f"{code}: {error.get('message', '')[:90]}" if response.status_code == 503 else code
    except (ValueError, AttributeError):
        return "unparsable"


def breakdown(results: list[Result]) -> str:
    """Non-200 answers by phase, status, error code and Retry-After presence."""
    counts: dict[tuple[str, str, int, str, bool], int] = {}
    for r in results:
        if r.status != 200:
            key = (r.phase, r.key, r.status, r.code, r.retry_after)
            counts[key] = counts.get(key, 0) + 1
    return "\n".join(
        f"  {phase:<20} {key:<6} {status:>3} retry-after={retry!s:<5} x{n:<4} {code}"
        for (phase, key, status, code, retry), n in counts.items()
    )


class Fault:
    """Inside ``Load.fault``: ``down()`` waits while the fault holds; ``mark_kill`` notes when
    a replica was SIGKILLed (its last flush interval may lose usage records)."""

    def __init__(self, load: Load, down_seconds: float) -> None:
        self._load = load
        self._down = down_seconds

    async def down(self) -> None:
        await asyncio.sleep(self._down)

    def mark_kill(self, replica: str) -> None:
        self._load.kill_time[replica] = time.monotonic()


class Load:
    """Senders on every replica (keys ``r<i>`` on replica i, ``budget`` on all) until stopped."""

    def __init__(
        self, bases: list[str], keys: dict[str, tuple[str, str]], model: str, *, deadline: float
    ) -> None:
        self.bases = bases
        self.keys = keys
        self.model = model
        self.deadline = deadline
        self.phases: list[Phase] = []
        self.kill_time: dict[str, float] = {}
        self._stop = asyncio.Event()

    @property
    def results(self) -> list[Result]:
        return [r for phase in self.phases for r in phase.results]

    async def _send(self, client: httpx.AsyncClient, replica: int, key: str) -> Result:
        phase = self.phases[-1]
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": "hello chaos"}],
            "max_tokens": 16,
        }
        headers = {"authorization": f"Bearer {self.keys[key][0]}"}
        started = time.monotonic()
        try:
            response = await client.post(
                f"{self.bases[replica]}/api/v1/chat/completions", json=body, headers=headers
            )
            status, retry = response.status_code, "retry-after" in response.headers
            request_id = response.headers.get("x-request-id", "")
            code = _error_code(response) if status != 200 else ""
        except httpx.TransportError as exc:
            status, retry, request_id, code = 0, False, "", type(exc).__name__
        ended = time.monotonic()
        result = Result(
            phase.name, replica, key, status, retry, ended - started, ended, request_id, code
        )
        phase.results.append(result)
        return result

    async def _sender(self, client: httpx.AsyncClient, replica: int, key: str) -> None:
        while not self._stop.is_set():
            result = await self._send(client, replica, key)
            await asyncio.sleep(PAUSE_S if result.status else 0.1)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.phases.append(Phase("start"))
        timeout = httpx.Timeout(self.deadline + 10, connect=1.0)
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, so
        # a request never races the server's close (that would count as a dropped request).
        limits = httpx.Limits(keepalive_expiry=2.0)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            tasks = []
            for replica in range(len(self.bases)):
                keys = [f"r{replica}"] * SENDERS_PER_REPLICA + ["budget"]
                tasks += [asyncio.create_task(self._sender(client, replica, k)) for k in keys]
            try:
                yield
            finally:
                self._stop.set()
                await asyncio.gather(*tasks)

    async def phase(self, name: str, seconds: float) -> None:
        self.phases.append(Phase(name))
        await asyncio.sleep(seconds)

    async def _healthy(self, client: httpx.AsyncClient, replica: int) -> bool:
        headers = {"authorization": f"Bearer {self.keys[f'r{replica}'][0]}"}
        body = {"model": self.model, "messages": [{"role": "user", "content": "probe"}]}
        url = f"{self.bases[replica]}/api/v1/chat/completions"
        with contextlib.suppress(httpx.TransportError):
            response = await client.post(url, json={**body, "max_tokens": 4}, headers=headers)
            return response.status_code == 200
        return False

    async def _recovery(self) -> float | None:
        """Seconds from now until every replica answers a chat with 200."""
        returned = time.monotonic()
        pending = set(range(len(self.bases)))
        async with httpx.AsyncClient(timeout=httpx.Timeout(2.0, connect=0.5)) as client:
            while pending and time.monotonic() - returned < RECOVERY_WAIT_S:
                pending = {r for r in pending if not await self._healthy(client, r)}
                if pending:
                    await asyncio.sleep(PROBE_EVERY_S)
        return None if pending else time.monotonic() - returned

    @contextlib.asynccontextmanager
    async def fault(
        self, name: str, *, down_seconds: float, store: bool = True
    ) -> AsyncIterator[Fault]:
        """A phase around one fault; on leaving it (the fault is over) the recovery is timed."""
        phase = Phase(name, store=store)
        self.phases.append(phase)
        yield Fault(self, down_seconds)
        phase.recovery = await self._recovery()
        await asyncio.sleep(SETTLE_S)


def render_table(phases: list[Phase]) -> str:
    """One row per phase: requests, 200s, 402s, 503s, other errors, recovery time."""
    head = f"{'phase':<22} {'requests':>8} {'200':>6} {'402':>5} {'503':>5} {'other':>6} recovery"
    lines = [head, "-" * len(head)]
    for phase in phases:
        statuses = [r.status for r in phase.results]
        if not statuses:
            continue
        ok, budget, busy = (statuses.count(s) for s in (200, 402, 503))
        other = len(statuses) - ok - budget - busy
        recovery = "-" if phase.recovery is None else f"{phase.recovery:.2f} s"
        lines.append(
            f"{phase.name:<22} {len(statuses):>8} {ok:>6} {budget:>5} {busy:>5} {other:>6} "
            f"{recovery}"
        )
    return "\n".join(lines)
