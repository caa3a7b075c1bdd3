"""Closed-loop load generator: N aiohttp workers POST chat completions for a fixed time or count.

Usage: ``.venv/bin/python bench/loadgen.py URL [--token T] [--model M] [--stream]
[--concurrency 16] [--duration 5 | --requests N] [--pid PID] [--cpu 0]``

Each worker sends its next request as soon as the previous answer was read completely (closed
loop, keep-alive, one pooled connection per worker). Connections are opened by one warm-up
request per worker before the clock (and the optional CPU probe) starts. Measured: requests per
second, latency percentiles, for streams the time to the first body bytes (first chunk), and
with ``--pid`` that server's CPU time per request (utime+stime of its process tree). A request
counts as an error when the status is not 200 or a stream lacks its ``[DONE]`` or has fewer
than ``--min-events`` events. Pinned to core 0 by default (the gateway under test runs on 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from procs import LOADGEN_CPU, cpu_seconds, pin_self, run_fast

__all__ = ["Job", "Result", "chat_body", "run", "run_sync"]

DEFAULT_MIN_EVENTS = 22


@dataclass(frozen=True)
class Job:
    """One measurement cell: where to send what, how hard and for how long."""

    url: str
    body: bytes | None
    token: str = ""
    method: str = "POST"
    stream: bool = False
    concurrency: int = 1
    duration: float = 5.0
    requests: int | None = None
    min_events: int = DEFAULT_MIN_EVENTS
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers (e.g. a peer gateway's provider config)."""


@dataclass
class Result:
    """What one cell measured (latencies in seconds)."""

    issued: int = 0
    completed: int = 0
    errors: int = 0
    wall: float = 0.0
    cpu: float | None = None
    latencies: list[float] = field(default_factory=list)
    ttfc: list[float] = field(default_factory=list)
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.completed / self.wall if self.wall else 0.0

    @property
    def cpu_ms(self) -> float | None:
        if self.cpu is None or not self.completed:
            return None
        return self.cpu / (self.completed + self.errors) * 1000

    def summary(self) -> dict[str, float | int | str | None]:
        return {
            "completed": self.completed,
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "p50_ms": percentile(self.latencies, 50) * 1000,
            "p99_ms": percentile(self.latencies, 99) * 1000,
            "ttfc_p50_ms": percentile(self.ttfc, 50) * 1000 if self.ttfc else None,
            "cpu_ms_per_req": self.cpu_ms,
            "first_error": self.first_error,
        }


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def chat_body(model: str, stream: bool) -> bytes:
    """A small chat request; streams ask nothing about usage (a gateway may add it upstream)."""
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello in twenty words."}],
        "max_tokens": 64,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


async def _one(
    session: aiohttp.ClientSession, job: Job, headers: dict[str, str]
) -> tuple[float, float | None, str]:
    """(latency, ttfc or None, error text or "") for one request."""
    began = time.perf_counter()
    async with session.request(job.method, job.url, data=job.body, headers=headers) as response:
        if not job.stream:
            await response.read()
            error = "" if response.status == 200 else f"HTTP {response.status}"
            return time.perf_counter() - began, None, error
        first = await response.content.readany()
        ttfc = time.perf_counter() - began
        rest = await response.content.read()
    latency = time.perf_counter() - began
    data = first + rest
    events = data.count(b"data:")
    if response.status != 200:
        return latency, ttfc, f"HTTP {response.status}: {data[:200]!r}"
    if events < job.min_events or not data.rstrip().endswith(b"[DONE]"):
        return latency, ttfc, f"stream of {events} events: {data[-200:]!r}"
    return latency, ttfc, ""


async def _worker(
    session: aiohttp.ClientSession, job: Job, headers: dict[str, str], result: Result, stop: float
) -> None:
    while time.perf_counter() < stop:
        if job.requests is not None and result.issued >= job.requests:
            return
        result.issued += 1
        try:
            latency, ttfc, error = await _one(session, job, headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            latency, ttfc, error = 0.0, None, f"{type(exc).__name__}: {exc}"
        if error:
            result.errors += 1
            result.first_error = result.first_error or error
            continue
        result.completed += 1
        result.latencies.append(latency)
        if ttfc is not None:
            result.ttfc.append(ttfc)


async def run(job: Job, probe: Callable[[], float] | None = None) -> Result:
    """Run ``job``; ``probe`` (e.g. the server's CPU seconds) is read around the timed part."""
    headers = {"Content-Type": "application/json"} if job.body is not None else {}
    headers.update(job.headers)
    if job.token:
        headers["Authorization"] = f"Bearer {job.token}"
    connector = aiohttp.TCPConnector(limit=job.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        warm = (_one(session, job, headers) for _ in range(job.concurrency))
        await asyncio.gather(*warm, return_exceptions=True)  # open the connections
        result = Result()
        before = probe() if probe else None
        began = time.perf_counter()
        stop = began + (job.duration if job.requests is None else 3600.0)
        workers = (_worker(session, job, headers, result, stop) for _ in range(job.concurrency))
        await asyncio.gather(*workers)
        result.wall = time.perf_counter() - began
        if probe is not None and before is not None:
            result.cpu = probe() - before
    return result


def run_sync(job: Job, probe: Callable[[], float] | None = None) -> Result:
    """``run`` on a fresh (uv)loop."""
    return run_fast(run(job, probe))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--token", default="")
    parser.add_argument("--model", default="bench-model")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--min-events", type=int, default=DEFAULT_MIN_EVENTS)
    parser.add_argument("--pid", type=int, help="server PID whose CPU time to charge")
    parser.add_argument("--cpu", type=int, default=LOADGEN_CPU, help="pin to this core")
    args = parser.parse_args()
    pin_self(args.cpu)
    job = Job(
        url=args.url,
        body=chat_body(args.model, args.stream),
        token=args.token,
        stream=args.stream,
        concurrency=args.concurrency,
        duration=args.duration,
        requests=args.requests,
        min_events=args.min_events,
    )
    probe = (lambda: cpu_seconds(args.pid)) if args.pid else None
    print(json.dumps(run_sync(job, probe).summary(), indent=2))


if __name__ == "__main__":
    main()
