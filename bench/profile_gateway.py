"""Profile Enclava's chat path under load with py-spy and rank the frames that cost CPU.

Usage: ``.venv/bin/python bench/profile_gateway.py [--mode chat|stream] [--concurrency 64]
[--duration 15] [--rate 200] [--top 10] [--keep DIR] [--production [--postgres DSN]
[--redis URL]] [--filter]``

Needs py-spy in the venv (``.venv/bin/pip install py-spy``; not a project dependency). Starts
the mock upstream and ``enclava serve`` as ``gateway.py`` does (core 1; load from core 0),
drives it while ``py-spy record --format raw`` samples the worker (GIL-holding stacks only), and
prints: the top self-time frames overall; per function of Enclava's own code (``kernel/``,
``builtin_plugins/``) the samples whose deepest Enclava frame it is ("own + library callees"
below it); and the inclusive share of those functions. ``--keep DIR`` also writes the raw
collapsed stacks there (speedscope.app and flamegraph.pl read them). ``--filter`` runs the
``pii_redactor`` chat filter as ``plugins.py`` does, on a prompt it rewrites (the guest's own
time inside wasmtime holds no GIL, so the samples are the host's share). Never part of the
test pass/fail.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import production
import servers
from loadgen import Job, chat_body, run_sync
from mock_upstream import MODEL
from procs import LOADGEN_CPU, cpu_seconds, pin_self

import plugins

PY_SPY = Path(sys.executable).with_name("py-spy")
OWN = re.compile(r"\((?:[^()]*/)?(kernel|builtin_plugins)/[^()]*\)$")
ENTRY = re.compile(r"\(kernel/cli\.py:\d+\)$")  # the process entry: everything runs under it
LINE = re.compile(r":\d+\)$")


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rpartition(" ")
    return [f for f in stack.split(";") if f and not f.startswith("process ")], int(count)


def _function(frame: str) -> str:
    return LINE.sub(")", frame)


@dataclass
class Ranking:
    """Sample counts per frame, from py-spy's raw collapsed stacks."""

    total: int = 0
    outside: int = 0
    self_fn: Counter[str] = field(default_factory=Counter)
    own_lines: Counter[str] = field(default_factory=Counter)
    deepest: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    def add(self, frames: list[str], count: int) -> None:
        self.total += count
        self.self_fn[_function(frames[-1])] += count
        own = [f for f in frames if OWN.search(f) and not ENTRY.search(f)]
        if not own:
            self.outside += count
            return
        if own[-1] == frames[-1]:
            self.own_lines[frames[-1]] += count
        self.deepest[_function(own[-1])] += count
        for function in dict.fromkeys(_function(f) for f in own):
            self.inclusive[function] += count


def rank(raw: str) -> Ranking:
    ranking = Ranking()
    for line in raw.splitlines():
        frames, count = _frames(line) if line.strip() else ([], 0)
        if frames:
            ranking.add(frames, count)
    return ranking


def _section(title: str, counts: Counter[str], total: int, top: int) -> str:
    lines = [f"\n{title}", "| % samples | frame |", "|---:|---|"]
    for frame, count in counts.most_common(top):
        lines.append(f"| {count / total * 100:5.1f} | `{frame}` |")
    return "\n".join(lines)


def _record(pid: int, seconds: float, rate: int, out: Path) -> subprocess.Popen[bytes]:
    argv = [
        str(PY_SPY),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        str(rate),
        "--gil",
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def profile(args: argparse.Namespace, tmp: Path) -> str:
    """Load Enclava while py-spy samples it; the raw collapsed stacks."""
    with ExitStack() as stack:
        mock = servers.start_mock(stack, tmp)
        if args.production:
            env = production.production_env(
                stack, tmp / "data", mock.base, postgres=args.postgres, redis_url=args.redis
            )
        else:
            env = servers.enclava_env(tmp / "data", mock.base)
        if args.filter:
            env.update(plugins.filter_env(plugins.build(tmp)))
        enclava = servers.start_enclava(stack, env, tmp / "enclava.log")
        if args.production:
            production.hard_budget(enclava.base, enclava.token)
        stream = args.mode == "stream"
        job = Job(
            url=enclava.base + "/chat/completions",
            body=plugins.chat_body(stream) if args.filter else chat_body(MODEL, stream),
            token=enclava.token,
            stream=stream,
            concurrency=args.concurrency,
            duration=3.0,
        )
        run_sync(job)  # warm-up
        raw = tmp / "stacks.txt"
        spy = _record(enclava.process.pid, args.duration, args.rate, raw)
        load = Job(**{**job.__dict__, "duration": args.duration + 1.0})
        done: list[str] = []
        pid = enclava.process.pid
        thread = threading.Thread(
            target=lambda: done.append(str(run_sync(load, lambda: cpu_seconds(pid)).summary()))
        )
        thread.start()
        _, err = spy.communicate(timeout=args.duration + 60)
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed ({spy.returncode}): {err.decode()[-500:]}")
        thread.join(timeout=args.duration + 60)
        print(f"load while sampling: {done[0] if done else 'unfinished'}", flush=True)
    return raw.read_text()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("chat", "stream"), default="chat")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="also write the raw collapsed stacks here")
    parser.add_argument(
        "--production",
        action="store_true",
        help="the production setup of production.py (PostgreSQL + Redis, every builtin on)",
    )
    parser.add_argument(
        "--filter", action="store_true", help="pii_redactor's chat filter on every request"
    )
    parser.add_argument("--postgres", default=production.DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=production.DEFAULT_REDIS)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    if not PY_SPY.exists():
        raise SystemExit(f"{PY_SPY} missing: .venv/bin/pip install py-spy")
    pin_self(LOADGEN_CPU)
    with tempfile.TemporaryDirectory(prefix="enclava-profile-") as tmp:
        raw = profile(args, Path(tmp))
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            (args.keep / "stacks.txt").write_text(raw)
    _print_ranking(rank(raw), args)


def _print_ranking(r: Ranking, args: argparse.Namespace) -> None:
    print(
        f"{r.total} samples (GIL held), {args.mode} at c={args.concurrency}; "
        f"{r.outside / r.total * 100:.1f}% outside any Enclava function (uvicorn, Litestar, "
        "asyncio, aiohttp callbacks)"
    )
    print(_section("Top self-time functions (any code)", r.self_fn, r.total, args.top * 2))
    print(
        _section(
            "Enclava functions: samples whose deepest Enclava frame they are "
            "(own code + library callees)",
            r.deepest,
            r.total,
            args.top,
        )
    )
    print(
        _section(
            "Enclava lines with self time (own bytecode or C calls py-spy cannot see into)",
            r.own_lines,
            r.total,
            args.top,
        )
    )
    print(_section("Enclava functions, inclusive", r.inclusive, r.total, args.top))


if __name__ == "__main__":
    main()
