"""Identity benchmark (issue #3): what API-key auth + rate limit cost per request, in µs of CPU.

Usage: ``.venv/bin/python bench/identity.py [--duration 5] [--repeats 3] [--concurrency 1,16]``

Enclava servers (one worker each, pinned to core 1, the mock upstream as Privatemode, the
load generator on core 0) answer GETs; for each the server's CPU time per request is measured
(utime+stime of its process tree over the timed part, medians of the repeats, cells
interleaved):

* ``live``      ``GET /health/live`` — root surface: no auth, no rate limit;
* ``memory``    ``GET /api/v1/models`` with an API key — auth (cached key), scope, rate limit
  (one KV op), threat detection, on the in-process memory KV;
* ``redis``     the same with ``ENCLAVA_REDIS_URL`` (``$TEST_REDIS_URL`` or
  ``redis://127.0.0.1:6379/0``, a unique ``ENCLAVA_REDIS_PREFIX`` deleted afterwards);
* ``no-rl``     memory, ``rate_limit`` plugin disabled;
* ``no-rl-td``  memory, ``rate_limit`` and ``threat_detection`` disabled (auth + scope only).

The differences isolate each part; "auth + surface + handler" still includes the small
``/models`` handler itself. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

import redis
import servers
from loadgen import Job, run_sync
from procs import LOADGEN_CPU, ForeignLoad, cpu_seconds, pin_self

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
VARIANTS: dict[str, dict[str, str]] = {
    "memory": {},
    "redis": {"ENCLAVA_REDIS_URL": REDIS_URL},
    "no-rl": {"ENCLAVA_PLUGINS_DISABLED": "rate_limit"},
    "no-rl-td": {"ENCLAVA_PLUGINS_DISABLED": "rate_limit,threat_detection"},
}
DIFFERENCES = (
    ("auth + scope + rate limit + threat detection + handler, memory KV", "memory", "live"),
    ("auth + scope + rate limit + threat detection + handler, Redis KV", "redis", "live"),
    ("Redis KV instead of memory", "redis", "memory"),
    ("rate limit + threat detection, memory KV", "memory", "no-rl-td"),
    ("rate limit alone, memory KV", "memory", "no-rl"),
    ("threat detection alone", "no-rl", "no-rl-td"),
    ("auth + scope + public surface + /models handler", "no-rl-td", "live"),
)


def _redis_ok() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def _redis_pids() -> list[int]:
    """The Redis server's PID when it runs on this machine (its CPU is the bench's own)."""
    try:
        info = redis.Redis.from_url(REDIS_URL, socket_timeout=2).info("server")
    except redis.RedisError:
        return []
    pid = int(info.get("process_id", 0))
    return [pid] if pid and Path(f"/proc/{pid}").exists() else []


def _cleanup(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _start(stack: ExitStack, tmp: Path, prefix: str) -> dict[str, servers.Server]:
    """Mock + one Enclava per variant; the ``live`` cell reuses the memory server."""
    mock = servers.start_mock(stack, tmp)
    started = {}
    for name, extra in VARIANTS.items():
        if name == "redis":
            if not _redis_ok():
                print(f"redis skipped: nothing answers at {REDIS_URL}", flush=True)
                continue
            extra = {**extra, "ENCLAVA_REDIS_PREFIX": prefix}
        env = servers.enclava_env(tmp / f"data-{name}", mock.base, **extra)
        started[name] = servers.start_enclava(stack, env, tmp / f"enclava-{name}.log")
    return started


def _job(name: str, server: servers.Server, concurrency: int, duration: float) -> Job:
    if name == "live":
        root = server.base.removesuffix("/api/v1")
        return Job(
            url=root + "/health/live",
            body=None,
            method="GET",
            concurrency=concurrency,
            duration=duration,
        )
    return Job(
        url=server.base + "/models",
        body=None,
        token=server.token,
        method="GET",
        concurrency=concurrency,
        duration=duration,
    )


def measure(
    started: dict[str, servers.Server], args: argparse.Namespace
) -> dict[tuple[str, int], float]:
    """{(cell, concurrency): [µs per request per repeat]}, cells interleaved."""
    cells = {"live": started["memory"], **started}
    found: dict[tuple[str, int], list[float]] = {}
    for name, server in cells.items():  # warm-up: caches, connections, first GC
        run_sync(_job(name, server, 16, 1.0))
    for repeat in range(args.repeats):
        for conc in args.concurrency:
            for name, server in cells.items():
                probe = functools.partial(cpu_seconds, server.process.pid)
                result = run_sync(_job(name, server, conc, args.duration), probe)
                if result.errors:
                    raise SystemExit(f"{name}: {result.errors} errors: {result.first_error}")
                micros = (result.cpu_ms or 0.0) * 1000
                found.setdefault((name, conc), []).append(micros)
                print(
                    f"  repeat {repeat + 1} {name:<9} c={conc:<3} {micros:8.1f} µs/req "
                    f"{result.rps:8.0f} req/s",
                    flush=True,
                )
    return {key: statistics.median(values) for key, values in found.items()}


def report(medians: dict[tuple[str, int], float], concurrencies: list[int]) -> str:
    head = "| cell | " + " | ".join(f"CPU µs/req c={c}" for c in concurrencies) + " |"
    lines = [head, "|---|" + "---:|" * len(concurrencies)]
    names = dict.fromkeys(name for name, _ in medians)
    for name in names:
        values = " | ".join(f"{medians.get((name, c), float('nan')):.1f}" for c in concurrencies)
        lines.append(f"| {name} | {values} |")
    lines += ["", "| difference | " + " | ".join(f"µs c={c}" for c in concurrencies) + " |"]
    lines.append("|---|" + "---:|" * len(concurrencies))
    for label, a, b in DIFFERENCES:
        if all((a, c) in medians and (b, c) in medians for c in concurrencies):
            diffs = " | ".join(f"{medians[(a, c)] - medians[(b, c)]:+.1f}" for c in concurrencies)
            lines.append(f"| {label} ({a} - {b}) | {diffs} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    pin_self(LOADGEN_CPU)
    prefix = f"enclava-bench-{uuid.uuid4().hex[:8]}:"
    try:
        with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="enclava-bench-") as tmp:
            started = _start(stack, Path(tmp), prefix)
            foreign = ForeignLoad(also_ours=_redis_pids())
            medians = measure(started, args)
            noise = foreign.report()
    finally:
        if _redis_ok():
            _cleanup(prefix)
    print(f"\nMedians of {args.repeats} repeats x {args.duration:g} s; {noise}\n")
    print(report(medians, args.concurrency))


if __name__ == "__main__":
    main()
