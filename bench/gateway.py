"""Gateway benchmark (issues #4, #19): floor, Enclava embedded and production, LiteLLM, Portkey.

Usage: ``.venv/bin/python bench/gateway.py [--duration 5] [--repeats 3] [--concurrency 1,16,64]
[--targets floor,embedded,production,litellm,portkey] [--skip-litellm] [--skip-portkey]
[--json FILE] [--env ENCLAVA_KEY=VALUE ...] [--tracing] [--postgres DSN] [--redis URL]``

One command, one table: for chat (non-streaming) and stream (20 content chunks, 22 SSE events)
at every concurrency, each target's req/s, p50/p99 latency, added p50 and p99 over
direct-to-mock, time to first chunk (TTFC) and its overhead, gateway CPU per request and that
CPU as a multiple of the floor's; then issue #19's targets with PASS/MISS for both Enclava
setups.

Targets: ``direct`` (the mock itself, the latency baseline, always measured); ``floor``
(``floor.py``: bare Litestar + aiohttp forwarding bytes on uvloop); ``enclava`` (embedded
defaults: SQLite, memory KV, default builtins); ``enclava-prod`` (``production.py``:
PostgreSQL + Redis on a throwaway database and key prefix, cleaned up, every builtin enabled,
metrics on, a hard budget on the bench key; attestation on, nothing to attest for the mock as
Privatemode); ``litellm`` and ``portkey`` (``peers.py``, pinned, installed on first use into
``bench/.venv-litellm`` and ``bench/.venv-portkey``; skipped with the reason when they cannot be
installed or started). Both Enclava setups run API-key auth, rate limiting (a limit far above
the load, so it runs but never throttles) and threat detection.

Method (shared notes/performance.md): the mock upstream and the closed-loop load generator
(this process) share core 0; each gateway runs as one process pinned to core 1. For every
repeat, mode and concurrency the targets run one after the other (order alternating between
repeats); each cell reports medians over repeats. "gateway CPU/req" is utime+stime of the
gateway's process tree over the timed part divided by requests. ``--tracing`` runs Enclava with
``[tracing]`` on, exporting over OTLP/HTTP to a sink in this process that discards every batch.
Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import peers
import production
import servers
from loadgen import Job, Result, chat_body, run_sync
from mock_upstream import MODEL
from otlp_sink import otlp_sink
from procs import LOADGEN_CPU, ForeignLoad, cpu_seconds, pin_self, rss_mib
from report import ENCLAVA_TARGETS, Key, aggregate, table
from report import targets as check_targets

MODES = ("chat", "stream")
ALL_TARGETS = ("floor", "embedded", "production", "litellm", "portkey")


def _job(server: servers.Server, mode: str, concurrency: int, duration: float) -> Job:
    stream = mode == "stream"
    return Job(
        url=server.base + "/chat/completions",
        body=chat_body(MODEL, stream),
        token=server.token,
        stream=stream,
        concurrency=concurrency,
        duration=duration,
        headers=server.headers,
    )


def _probe(name: str, server: servers.Server) -> Callable[[], float] | None:
    if name == "direct":
        return None
    pid = server.process.pid
    return lambda: cpu_seconds(pid)


def _warm_up(targets: dict[str, servers.Server], duration: float) -> None:
    for name, server in targets.items():
        for mode in MODES:
            result = run_sync(_job(server, mode, 16, duration))
            if result.errors:
                raise SystemExit(f"{name} {mode} warm-up failed: {result.first_error}")


def measure(
    targets: dict[str, servers.Server], concurrencies: list[int], args: argparse.Namespace
) -> dict[Key, list[Result]]:
    """Every (target, mode, concurrency) ``args.repeats`` times, targets interleaved."""
    results: dict[Key, list[Result]] = {}
    names = list(targets)
    for repeat in range(args.repeats):
        order = names if repeat % 2 == 0 else names[::-1]
        for mode in MODES:
            for conc in concurrencies:
                for name in order:
                    job = _job(targets[name], mode, conc, args.duration)
                    result = run_sync(job, _probe(name, targets[name]))
                    results.setdefault((name, mode, conc), []).append(result)
                    s = result.summary()
                    print(
                        f"  repeat {repeat + 1} {name:<12} {mode:<6} c={conc:<3} "
                        f"{s['rps']:>8} req/s  cpu/req {s['cpu_ms_per_req'] or 0:.3f} ms  "
                        f"errors {s['errors']} {s['first_error']}",
                        flush=True,
                    )
    return results


def _peer(name: str, start: Callable[[], servers.Server]) -> servers.Server | None:
    try:
        return start()
    except (SystemExit, OSError, subprocess.SubprocessError) as exc:
        print(f"{name} skipped: could not install or start it: {exc}", flush=True)
        return None


def _start(
    stack: ExitStack, tmp: Path, wanted: list[str], args: argparse.Namespace, extra: dict[str, str]
) -> dict[str, servers.Server]:
    mock = servers.start_mock(stack, tmp)
    started = {"direct": mock}
    if "floor" in wanted:
        started["floor"] = servers.start_floor(stack, tmp, mock.base)
    if "embedded" in wanted:
        env = servers.enclava_env(tmp / "embedded-data", mock.base, **extra)
        started["enclava"] = servers.start_enclava(stack, env, tmp / "enclava.log")
    if "production" in wanted:
        data = tmp / "prod-data"
        env = production.production_env(
            stack, data, mock.base, postgres=args.postgres, redis_url=args.redis, **extra
        )
        prod = servers.start_enclava(stack, env, tmp / "enclava-prod.log")
        production.hard_budget(prod.base, prod.token)
        started["enclava-prod"] = prod
    starters = {
        "litellm": lambda: peers.start_litellm(stack, tmp, mock.base),
        "portkey": lambda: peers.start_portkey(stack, tmp, mock.base),
    }
    for name, start in starters.items():
        if name in wanted and (server := _peer(name, start)) is not None:
            started[name] = server
    time.sleep(2.0)  # let start-up work (discovery, first GC) settle
    return started


def _dump(path: Path, results: dict[Key, list[Result]], rss: dict[str, float]) -> None:
    data = {
        "idle_rss_mib": rss,
        "cells": [
            {"target": t, "mode": m, "concurrency": c, "repeats": [r.summary() for r in runs]}
            for (t, m, c), runs in results.items()
        ],
    }
    path.write_text(json.dumps(data, indent=2))


def _revision() -> str:
    """The measured code: commit, plus ``+dirty`` when the work tree has changes."""
    repo = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(repo)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "revision unknown"
    return f"at {head}{'+dirty' if dirty else ''}"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per cell")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels")
    parser.add_argument("--targets", default=",".join(ALL_TARGETS), help="comma-separated")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-portkey", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every repeat's figures here")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="ENCLAVA_KEY=VALUE",
        help="extra setting for both Enclava setups (repeatable)",
    )
    parser.add_argument(
        "--tracing", action="store_true", help="OpenTelemetry traces on, to a local OTLP sink"
    )
    parser.add_argument("--postgres", default=production.DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=production.DEFAULT_REDIS)
    args = parser.parse_args()
    wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(wanted) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(ALL_TARGETS)}")
    flags = {"litellm": args.skip_litellm, "portkey": args.skip_portkey}
    skipped = {name for name, skip in flags.items() if skip}
    args.wanted = [t for t in wanted if t not in skipped]
    return args


def main() -> None:
    args = _arguments()
    extra = dict(item.split("=", 1) for item in args.env)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    pin_self(LOADGEN_CPU)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="enclava-bench-") as tmp:
        sink = stack.enter_context(otlp_sink()) if args.tracing else None
        if sink is not None:
            extra["ENCLAVA_TRACING_ENABLED"] = "true"
            endpoint = f"http://127.0.0.1:{sink.server_address[1]}/v1/traces"
            extra["ENCLAVA_TRACING_OTLP_ENDPOINT"] = endpoint
        targets = _start(stack, Path(tmp), args.wanted, args, extra)
        ours = [name for name in ENCLAVA_TARGETS if name in targets]
        idle = {name: rss_mib(targets[name].process.pid) for name in ours}
        print(f"idle RSS after start (MiB): {idle}; warming up", flush=True)
        _warm_up(targets, 1.0)
        foreign = ForeignLoad()
        results = measure(targets, concurrencies, args)
        noise = foreign.report()
        loaded = {name: round(rss_mib(targets[name].process.pid), 1) for name in ours}
    spans_kib = sink.received / 1024 if sink is not None else 0.0  # Enclava flushed at its exit
    cells = aggregate(results)
    shown_idle = {name: round(value, 1) for name, value in idle.items()}
    print(
        f"\nMedians of {args.repeats} repeats x {args.duration:g} s per cell; "
        f"Enclava {_revision()}; RSS MiB idle {shown_idle}, after load {loaded}; {noise}\n"
    )
    print(table(cells, list(targets)))
    for name in ours:
        print()
        print(check_targets(cells, name, concurrencies, idle[name]))
    if sink is not None:
        print(f"tracing on: the OTLP sink received {spans_kib:.0f} KiB of spans")
    if args.json:
        _dump(args.json, results, idle)


if __name__ == "__main__":
    main()
