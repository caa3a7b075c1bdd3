"""Workers scaling (issue #19): CPU per request of Enclava at ``--workers 1`` and ``2`` with Redis.

Usage: ``.venv/bin/python bench/workers.py [--workers 1,2] [--duration 5] [--repeats 3]
[--concurrency 16,64] [--postgres DSN] [--redis URL]``

Method: the production setup of ``production.py`` (PostgreSQL + Redis on a throwaway
database and key prefix, every builtin enabled but ``rag``, which would need a Qdrant server
for two workers; metrics on, a hard budget on the bench key), the mock upstream and the load
generator, nothing pinned: on a 2-core machine load generator, mock and workers share both
cores, so requests/s cannot scale; what must stay flat from 1 to 2 workers is the CPU per
request (utime+stime of the whole ``enclava serve`` process tree over the timed part /
requests). Non-streamed chats; for each repeat every worker count runs each concurrency (order
alternating between repeats); medians over repeats. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

import production
import servers
from loadgen import Job, Result, chat_body, run_sync
from mock_upstream import MODEL
from procs import ForeignLoad, cpu_seconds


def _start(
    stack: ExitStack, tmp: Path, upstream: str, workers: int, args: argparse.Namespace
) -> servers.Server:
    data = tmp / f"w{workers}" / "data"
    # More than one worker needs a Qdrant server while RAG is on: RAG off at every count.
    env = production.production_env(
        stack,
        data,
        upstream,
        postgres=args.postgres,
        redis_url=args.redis,
        ENCLAVA_PLUGINS_DISABLED="rag",
    )
    log = tmp / f"w{workers}" / "enclava.log"
    server = servers.start_enclava(stack, env, log, cpu=None, workers=workers)
    production.hard_budget(server.base, server.token)
    return server


def _job(server: servers.Server, concurrency: int, duration: float) -> Job:
    return Job(
        url=server.base + "/chat/completions",
        body=chat_body(MODEL, False),
        token=server.token,
        concurrency=concurrency,
        duration=duration,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--postgres", default=production.DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=production.DEFAULT_REDIS)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]
    results: dict[tuple[int, int], list[Result]] = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="enclava-workers-") as name:
        tmp = Path(name)
        for count in counts:
            (tmp / f"w{count}").mkdir()
        mock = servers.start_mock(stack, tmp, cpu=None)
        started = {count: _start(stack, tmp, mock.base, count, args) for count in counts}
        servers.settle(2.0)
        for server in started.values():
            run_sync(_job(server, 16, 1.0))  # warm-up: connections, budget counters
        foreign = ForeignLoad()
        for repeat in range(args.repeats):
            order = counts if repeat % 2 == 0 else counts[::-1]
            for conc in levels:
                for count in order:
                    server = started[count]
                    pid = server.process.pid
                    probe = lambda pid=pid: cpu_seconds(pid)  # noqa: E731
                    result = run_sync(_job(server, conc, args.duration), probe)
                    results.setdefault((count, conc), []).append(result)
                    print(
                        f"  repeat {repeat + 1} workers={count} c={conc:<3} {result.rps:8.1f} "
                        f"req/s  cpu/req {result.cpu_ms or 0:.3f} ms  errors {result.errors} "
                        f"{result.first_error}",
                        flush=True,
                    )
        noise = foreign.report()
    print(f"\nMedians of {args.repeats} repeats x {args.duration:g} s; unpinned; {noise}\n")
    print("| workers | c | req/s | CPU/req ms (each repeat) | CPU/req ms median | errors |")
    print("|---:|---:|---:|---|---:|---:|")
    for (count, conc), runs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cpus = [r.cpu_ms for r in runs if r.cpu_ms is not None]
        shown = ", ".join(f"{c:.3f}" for c in cpus)
        print(
            f"| {count} | {conc} | {statistics.median(r.rps for r in runs):,.0f} | {shown} "
            f"| {statistics.median(cpus):.3f} | {sum(r.errors for r in runs)} |"
        )


if __name__ == "__main__":
    main()
