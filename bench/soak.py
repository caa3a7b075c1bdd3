"""Soak benchmark (issues #19, #20): ``enclava serve`` replicas under steady load for minutes; RSS
and CPU per request must stay flat (within 5 %) from the first window to the last.

Usage: ``.venv/bin/python bench/soak.py [--minutes 10] [--concurrency 64] [--replicas 2]
[--window 30] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
[--redis redis://127.0.0.1:6379/0]``

Method: the mock upstream (``mock_upstream.py``) as Privatemode; ``--replicas`` replicas (one
worker each, not pinned: the machine has two cores and the replicas share them) in the
production setup of ``production.py``: a fresh PostgreSQL database created on ``--postgres``
(dropped afterwards), a fresh key prefix on ``--redis`` (deleted afterwards), every builtin
enabled, metrics on and a hard budget on the key; closed-loop clients (``loadgen.py``),
``--concurrency`` shared among the replicas, non-streamed chats, in back-to-back windows of
``--window`` seconds. Per window and replica: requests/s, errors,
CPU ms per request (utime+stime of the replica's process tree over the window / requests) and RSS
at the window's end. The summary compares the first and the last window, and the halves of
the run (mean of each). The mock upstream is the control: it does the same fixed work for every
request, so its CPU per request (printed per window as ``mock``) drifts only when the machine
does (a noisy neighbour, a cache-hungry process, frequency changes); the summary sets the
replicas' CPU drift beside it. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import production
import servers
from loadgen import Job, Result, chat_body, run
from mock_upstream import MODEL
from procs import ForeignLoad, cpu_seconds, free_port, rss_mib, run_fast, spawn, wait_until


@dataclass(frozen=True)
class Sample:
    """One replica over one window."""

    minute: float
    replica: int
    rps: float
    errors: int
    cpu_ms: float
    rss_mib: float
    mock_cpu_ms: float
    """The mock upstream's CPU per request over the same window: the machine's control."""


def _start_replicas(
    stack: ExitStack, tmp: Path, upstream: str, args: argparse.Namespace
) -> list[servers.Server]:
    first = production.production_env(
        stack,
        tmp / "data-0",
        upstream,
        postgres=args.postgres,
        redis_url=args.redis,
        # Replicas verify each other's keys: one pepper for all (each has its own data dir).
        ENCLAVA_API_KEYS_PEPPER=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    token = servers.create_key(first)
    replicas = []
    for index in range(args.replicas):
        env = first | {"ENCLAVA_DATA_DIR": str(tmp / f"data-{index}")}
        port = free_port()
        argv = [servers.ENCLAVA, "serve", "--host", "127.0.0.1", "--port", str(port)]
        proc = spawn(stack, f"enclava-{index}", argv, env=env, log=tmp / f"r{index}.log", cpu=None)
        base = f"http://127.0.0.1:{port}/api/v1"
        wait_until(
            proc,
            lambda base=base: MODEL in str(servers.get_json(base + "/models", token)),
            timeout=90,
            what="the mock's model in /api/v1/models",
        )
        replicas.append(servers.Server(proc, base, token))
    production.hard_budget(replicas[0].base, token)
    return replicas


async def _window(replicas: list[servers.Server], per_replica: int, seconds: float) -> list[Result]:
    jobs = [
        Job(
            url=r.base + "/chat/completions",
            body=chat_body(MODEL, False),
            token=r.token,
            concurrency=per_replica,
            duration=seconds,
        )
        for r in replicas
    ]
    probes = [lambda pid=r.process.pid: cpu_seconds(pid) for r in replicas]
    return list(await asyncio.gather(*(run(j, p) for j, p in zip(jobs, probes, strict=True))))


def _soak(
    replicas: list[servers.Server], mock: servers.Server, args: argparse.Namespace
) -> list[Sample]:
    samples: list[Sample] = []
    began = time.monotonic()
    per_replica = max(1, args.concurrency // len(replicas))
    while time.monotonic() - began < args.minutes * 60:
        mock_before = cpu_seconds(mock.process.pid)
        results = run_fast(_window(replicas, per_replica, args.window))
        served = sum(r.completed + r.errors for r in results)
        mock_ms = (cpu_seconds(mock.process.pid) - mock_before) / max(1, served) * 1000
        minute = (time.monotonic() - began) / 60
        for index, (server, result) in enumerate(zip(replicas, results, strict=True)):
            sample = Sample(
                minute,
                index,
                result.rps,
                result.errors,
                result.cpu_ms or float("nan"),
                rss_mib(server.process.pid),
                mock_ms,
            )
            samples.append(sample)
            print(
                f"{minute:5.1f} min  r{index}  {sample.rps:7.1f} req/s  errors {sample.errors:4d}"
                f"  CPU {sample.cpu_ms:5.2f} ms/req  RSS {sample.rss_mib:6.1f} MiB"
                f"  mock {mock_ms:5.3f} ms/req",
                flush=True,
            )
    return samples


def _drift(first: float, last: float) -> str:
    return f"{(last - first) / first * 100:+.1f} %" if first else "n/a"


def _halves(values: list[float]) -> str:
    """Mean of the first half of the windows → mean of the second half (drift)."""
    middle = len(values) // 2
    if not middle:
        return "n/a"
    first = sum(values[:middle]) / middle
    second = sum(values[middle:]) / (len(values) - middle)
    return f"{first:5.3f} → {second:5.3f} ({_drift(first, second)})"


def summary(samples: list[Sample]) -> str:
    """First vs last window per replica (CPU/request, RSS), and the halves of the run set
    beside the mock's (the control's) drift over the same windows."""
    lines = ["replica  CPU ms/req first → last (drift)   RSS MiB first → last (drift)"]
    for index in sorted({s.replica for s in samples}):
        mine = [s for s in samples if s.replica == index]
        first, last = mine[0], mine[-1]
        cpu = _drift(first.cpu_ms, last.cpu_ms)
        rss = _drift(first.rss_mib, last.rss_mib)
        lines.append(
            f"r{index}       {first.cpu_ms:5.2f} → {last.cpu_ms:5.2f} ({cpu})"
            f"      {first.rss_mib:6.1f} → {last.rss_mib:6.1f} ({rss})"
        )
    lines.append("CPU ms/req, first half → second half of the windows (drift):")
    for index in sorted({s.replica for s in samples}):
        lines.append(f"  r{index}    {_halves([s.cpu_ms for s in samples if s.replica == index])}")
    control = [s.mock_cpu_ms for s in samples if s.replica == 0]
    lines.append(f"  mock  {_halves(control)}  (fixed work per request: the machine's drift)")
    errors = sum(s.errors for s in samples)
    lines.append(f"errors over the run: {errors}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64, help="clients, all replicas")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per sample")
    parser.add_argument("--postgres", default=production.DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=production.DEFAULT_REDIS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="enclava-soak-") as name, ExitStack() as stack:
        tmp = Path(name)
        mock = servers.start_mock(stack, tmp, cpu=None)
        replicas = _start_replicas(stack, tmp, mock.base, args)
        servers.settle()
        foreign = ForeignLoad([mock.process.pid, *(r.process.pid for r in replicas)])
        samples = _soak(replicas, mock, args)
        print(summary(samples))
        print(foreign.report())


if __name__ == "__main__":
    main()
