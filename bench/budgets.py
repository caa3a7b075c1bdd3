"""Budget benchmark: hot-path microseconds of reserve + settle on the memory and Redis KV.

Usage: ``.venv/bin/python bench/budgets.py [--calls 5000] [--concurrency 32] [--runs 3]``

Method: one process, one event loop. One "exchange" is what the usage guard adds to a budgeted
request: the cost estimate (prompt size + ``max_tokens`` at the dearest provider's price), one
``KV.reserve`` of it on two budgets (the key's and its user's) and, when the answer ends, one
``KV.reserve`` settling the real cost. "sequential" awaits ``--calls`` exchanges one after the
other; "concurrent" shares them among ``--concurrency`` workers (wall time / calls). Budgets
rotate over 100 keys with limits that always have room. Budget definitions are cached per
replica, so SQL is not on this path. Redis is ``$TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/0``) under a throwaway prefix deleted afterwards. Never part of the test
pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from builtin_plugins.usage.budget_store import Budget
from builtin_plugins.usage.ledger import BudgetLedger
from builtin_plugins.usage.money import estimate_prompt_tokens
from builtin_plugins.usage.periods import PeriodWindow
from builtin_plugins.usage.prices import PriceBook
from builtin_plugins.usage.settings import PriceSetting, UsageSettings
from kernel.storage.kv import open_kv

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KEYS = 100
BODY = b'{"model":"gpt-oss-120b","messages":[{"role":"user","content":"' + b"x" * 400 + b'"}]}'
SETTINGS = UsageSettings(
    prices={
        "privatemode": {"gpt-oss-120b": PriceSetting(input=Decimal("0.2"), output=Decimal("0.8"))}
    }
)


def _budgets() -> list[tuple[Budget, Budget]]:
    now = datetime.now(UTC)

    def budget(owner_type: str, owner_id: str) -> Budget:
        return Budget(
            id=uuid.uuid4().hex,
            owner_type=owner_type,  # type: ignore[arg-type]
            owner_id=owner_id,
            name="bench",
            limit_micros=2**50,
            period="monthly",
            warning_percent=None,
            hard=True,
            created_at=now,
            updated_at=now,
        )

    return [(budget("api_key", f"k{i}"), budget("user", f"u{i}")) for i in range(KEYS)]


async def nothing_recorded(budget: Budget, period: PeriodWindow) -> int:
    """The SQL seed runs once per budget and period per replica: not on the measured path."""
    return 0


async def exchange(ledger: BudgetLedger, book: PriceBook, pair: tuple[Budget, Budget]) -> None:
    now = datetime.now(UTC)
    estimate = book.estimate(
        "gpt-oss-120b", now, prompt=estimate_prompt_tokens(BODY), completion=256
    )
    hold = await ledger.reserve(pair, estimate or 0, now, user=pair[1].owner_id)  # its key's owner
    await ledger.settle(hold, (estimate or 0) // 3)


async def measure(url: str, prefix: str, args: argparse.Namespace) -> tuple[float, float]:
    """Median microseconds per exchange: (sequential, concurrent)."""
    kv = open_kv(url, prefix=prefix)
    ledger = BudgetLedger(kv, ZoneInfo("UTC"), "EUR", recorded=nothing_recorded)
    book = PriceBook((), SETTINGS)
    pairs = _budgets()

    async def sequential(calls: int) -> float:
        began = time.perf_counter()
        for i in range(calls):
            await exchange(ledger, book, pairs[i % KEYS])
        return time.perf_counter() - began

    async def concurrent(calls: int) -> float:
        counter = iter(range(calls))

        async def worker() -> None:
            for i in counter:
                await exchange(ledger, book, pairs[i % KEYS])

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        return time.perf_counter() - began

    try:
        await sequential(500)  # warm-up: connections, script cache
        seq, conc = [], []
        for _ in range(args.runs):
            seq.append(await sequential(args.calls) / args.calls * 1e6)
            conc.append(await concurrent(args.calls) / args.calls * 1e6)
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
    print(
        f"estimate + reserve + settle on 2 budgets, {args.calls} calls, median of {args.runs} runs"
    )
    print(f"{'backend':<8} {'sequential µs':>14} {f'concurrency {args.concurrency} µs':>19}")
    for name, (seq, conc) in rows:
        print(f"{name:<8} {seq:>14.1f} {conc:>19.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
