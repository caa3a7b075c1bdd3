"""Gateway benchmark (issue #4): direct-to-mock vs Enclava vs LiteLLM proxy, in one run.

Usage: ``.venv/bin/python bench/gateway.py [--duration 5] [--repeats 2] [--skip-litellm]
[--concurrency 1,16,64] [--json FILE] [--env ENCLAVA_KEY=VALUE ...] [--tracing]``

``--tracing`` runs Enclava with ``[tracing]`` on, exporting over OTLP/HTTP to a sink in this
process that reads and discards every batch (compare with a run without it for the cost of
tracing; without it tracing is off, as by default).

Method (shared notes/performance.md): the mock upstream (``mock_upstream.py``) and the
closed-loop load generator (this process, ``loadgen.py``) share core 0; each gateway runs as one
worker pinned to core 1, Enclava with API-key auth, rate limiting (limit set very high, so the
limiter runs but never throttles) and threat detection on. For every repeat, mode (chat =
non-streaming, stream = 20 content chunks, 22 SSE events) and concurrency, the targets run one
after the other (order alternating between repeats); each cell reports medians over repeats.
"gateway CPU/req" is utime+stime of the gateway's process tree over the timed part divided by
requests; "added" columns are the difference to direct-to-mock. LiteLLM comes from
``bench/.venv-litellm`` (created on first use); if it cannot be installed or started, the
reason is printed and the run goes on without it. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import servers
from loadgen import Job, Result, chat_body, run_sync
from mock_upstream import MODEL
from procs import LOADGEN_CPU, ForeignLoad, cpu_seconds, pin_self, rss_mib
from report import Key, Targets, aggregate, table
from report import targets as check_targets

MODES = ("chat", "stream")


def _start_litellm(stack: ExitStack, tmp: Path, upstream: str) -> servers.Server | None:
    try:
        return servers.start_litellm(stack, tmp, upstream)
    except (SystemExit, OSError, subprocess.SubprocessError) as exc:
        print(f"LiteLLM skipped: could not install or start it: {exc}", flush=True)
        return None


def _job(server: servers.Server, mode: str, concurrency: int, duration: float) -> Job:
    stream = mode == "stream"
    return Job(
        url=server.base + "/chat/completions",
        body=chat_body(MODEL, stream),
        token=server.token,
        stream=stream,
        concurrency=concurrency,
        duration=duration,
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
                        f"  repeat {repeat + 1} {name:<8} {mode:<6} c={conc:<3} "
                        f"{s['rps']:>8} req/s  cpu/req {s['cpu_ms_per_req'] or 0:.3f} ms  "
                        f"errors {s['errors']} {s['first_error']}",
                        flush=True,
                    )
    return results


def _start(
    stack: ExitStack, tmp: Path, skip_litellm: bool, extra: dict[str, str]
) -> tuple[dict[str, servers.Server], float]:
    mock = servers.start_mock(stack, tmp)
    env = servers.enclava_env(tmp / "enclava-data", mock.base, **extra)
    enclava = servers.start_enclava(stack, env, tmp / "enclava.log")
    targets = {"direct": mock, "enclava": enclava}
    if not skip_litellm:
        litellm = _start_litellm(stack, tmp, mock.base)
        if litellm is not None:
            targets["litellm"] = litellm
    time.sleep(2.0)  # let start-up work (discovery, first GC) settle
    return targets, rss_mib(enclava.process.pid)


class _SinkServer(ThreadingHTTPServer):
    received = 0
    """Bytes of spans received so far."""


class _OtlpSink(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports and drops them, counting bytes received."""

    server: _SinkServer

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(size)
        self.server.received += size
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def _otlp_sink() -> Iterator[_SinkServer]:
    """A local OTLP/HTTP traces endpoint for ``--tracing``."""
    server = _SinkServer(("127.0.0.1", 0), _OtlpSink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _dump(path: Path, results: dict[Key, list[Result]], rss: float) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per cell")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every repeat's figures here")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="ENCLAVA_KEY=VALUE",
        help="extra setting for Enclava (repeatable), e.g. ENCLAVA_PLUGINS_DISABLED=usage",
    )
    parser.add_argument(
        "--tracing", action="store_true", help="OpenTelemetry traces on, to a local OTLP sink"
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    pin_self(LOADGEN_CPU)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="enclava-bench-") as tmp:
        sink = stack.enter_context(_otlp_sink()) if args.tracing else None
        if sink is not None:
            extra["ENCLAVA_TRACING_ENABLED"] = "true"
            endpoint = f"http://127.0.0.1:{sink.server_address[1]}/v1/traces"
            extra["ENCLAVA_TRACING_OTLP_ENDPOINT"] = endpoint
        targets, idle_rss = _start(stack, Path(tmp), args.skip_litellm, extra)
        print(f"Enclava idle RSS after start: {idle_rss:.1f} MiB; warming up", flush=True)
        _warm_up(targets, 1.0)
        foreign = ForeignLoad()
        results = measure(targets, concurrencies, args)
        noise = foreign.report()
        loaded_rss = rss_mib(targets["enclava"].process.pid)
    spans_kib = sink.received / 1024 if sink is not None else 0.0  # Enclava flushed at its exit
    cells = aggregate(results)
    print(
        f"\nMedians of {args.repeats} repeats x {args.duration:g} s per cell; "
        f"Enclava {_revision()}, RSS idle {idle_rss:.1f} MiB, after load {loaded_rss:.1f} MiB; "
        f"{noise}\n"
    )
    print(table(cells, list(targets)))
    rival = "litellm" if "litellm" in targets else None
    print()
    print(check_targets(cells, Targets("enclava", concurrencies, idle_rss, rival)))
    if sink is not None:
        print(f"tracing on: the OTLP sink received {spans_kib:.0f} KiB of spans")
    if args.json:
        _dump(args.json, results, idle_rss)


if __name__ == "__main__":
    main()
