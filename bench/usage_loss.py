"""Usage-record loss window: kill -9 ``enclava serve`` under load, count answers vs records.

Usage: ``.venv/bin/python bench/usage_loss.py [--flush 1.0] [--concurrency 16] [--load 3]
[--runs 3]``

Method: the mock upstream as Privatemode, ``enclava serve`` (one worker, SQLite, memory KV,
``[usage] flush_interval_seconds = --flush``), closed-loop clients sending non-streamed chats for
``--load`` seconds; then SIGKILL to the server's process group (no shutdown flush) while the
clients keep sending. Every 200 the clients received is a request the gateway finished, so each
should have a record: lost = 200s received - records in SQL. The claim under test: at most the
requests of one flush interval plus one insert are lost; the report prints lost and the answers
received in the last one and two ``--flush`` intervals before the kill. Never part of the
test pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp
from mock_upstream import MODEL
from servers import enclava_env, start_enclava, start_mock


async def load(url: str, token: str, seconds: float, concurrency: int) -> list[float]:
    """Send chats until the server stops answering; the arrival times of the 200s."""
    ok: list[float] = []
    stop_at = time.monotonic() + seconds + 30
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {token}"}

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop_at:
            try:
                async with session.post(url, json=body, headers=headers) as response:
                    await response.read()
                    if response.status == 200:
                        ok.append(time.monotonic())
            except (aiohttp.ClientError, OSError):
                return  # the server is gone

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return ok


def records(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute("SELECT count(*) FROM usage_records WHERE status = 200").fetchone()[0]
        )


async def one_run(args: argparse.Namespace, tmp: Path) -> tuple[int, int, int, int]:
    """(answers received, records stored, answers in the last one and two flush intervals)."""
    with ExitStack() as stack:
        mock = start_mock(stack, tmp)
        env = enclava_env(
            tmp / "data", mock.base, ENCLAVA_USAGE_FLUSH_INTERVAL_SECONDS=str(args.flush)
        )
        server = start_enclava(stack, env, tmp / "enclava.log", cpu=None)
        loader = asyncio.create_task(
            load(f"{server.base}/chat/completions", server.token, args.load, args.concurrency)
        )
        await asyncio.sleep(args.load)
        killed_at = time.monotonic()
        os.killpg(server.process.pid, signal.SIGKILL)
        ok = await loader
    stored = records(tmp / "data" / "enclava.db")

    def since(seconds: float) -> int:
        return sum(1 for t in ok if killed_at - seconds <= t <= killed_at)

    return len(ok), stored, since(args.flush), since(2 * args.flush)


async def run(args: argparse.Namespace) -> None:
    print(f"flush interval {args.flush} s, {args.concurrency} clients, kill -9 after {args.load} s")
    print(f"{'run':>3} {'200s':>7} {'records':>8} {'lost':>6} {'last interval':>14} {'last 2':>7}")
    for index in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            received, stored, one, two = await one_run(args, Path(tmp))
        lost = received - stored
        print(f"{index + 1:>3} {received:>7} {stored:>8} {lost:>6} {one:>14} {two:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flush", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--load", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
