"""Rate-limit benchmark: microseconds per ``KV.throttle()`` on the memory and Redis backends.

Usage: ``.venv/bin/python bench/rate_limit.py [--calls 5000] [--concurrency 32] [--runs 3]``

Method: one process, one event loop. "sequential" awaits ``--calls`` throttles one after the
other (latency of one call); "concurrent" runs the same number through ``--concurrency`` workers
(wall time / calls, i.e. the cost the event loop pays per rate-limited request under load). Keys
rotate over 100 buckets with a limit high enough that every call is allowed, as on a busy
gateway. Redis is ``$TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) under a throwaway
prefix deleted afterwards. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import redis.asyncio as aioredis

from kernel.storage.kv import KV, open_kv

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KEYS = 100
LIMIT = 10_000_000


async def sequential(kv: KV, calls: int) -> float:
    """Seconds for ``calls`` throttles awaited one at a time."""
    began = time.perf_counter()
    for i in range(calls):
        await kv.throttle(f"bench:{i % KEYS}", limit=LIMIT, period=60)
    return time.perf_counter() - began


async def concurrent(kv: KV, calls: int, concurrency: int) -> float:
    """Seconds for ``calls`` throttles shared by ``concurrency`` workers."""
    counter = iter(range(calls))

    async def worker() -> None:
        for i in counter:
            await kv.throttle(f"bench:{i % KEYS}", limit=LIMIT, period=60)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


async def measure(url: str, prefix: str, args: argparse.Namespace) -> tuple[float, float]:
    """Median microseconds per call: (sequential, concurrent)."""
    kv = open_kv(url, prefix=prefix)
    try:
        await sequential(kv, 500)  # warm-up: connections, script cache
        seq, conc = [], []
        for _ in range(args.runs):
            seq.append(await sequential(kv, args.calls) / args.calls * 1e6)
            conc.append(await concurrent(kv, args.calls, args.concurrency) / args.calls * 1e6)
        return statistics.median(seq), statistics.median(conc)
    finally:
        await kv.close()


async def cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def run(args: argparse.Namespace) -> None:
    prefix = f"enclava-bench-{uuid.uuid4().hex[:8]}:"
    rows = [("memory", await measure("", prefix, args))]
    try:
        rows.append(("redis", await measure(REDIS_URL, prefix, args)))
    finally:
        await cleanup(prefix)
    print(f"KV.throttle(), {args.calls} calls, median of {args.runs} runs, µs per call")
    print(f"{'backend':<8} {'sequential':>12} {f'concurrency {args.concurrency}':>16}")
    for name, (seq, conc) in rows:
        print(f"{name:<8} {seq:>12.1f} {conc:>16.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
