"""Plugin sandbox benchmark (issues #7, #19): what one WASM chat filter adds to the hot path,
and how many plugin endpoint calls per second one worker serves.

Usage: ``.venv/bin/python bench/plugins.py [--duration 5] [--concurrency 1,16] [--repeat 1]
[--json FILE]``

Method: the mock upstream and the closed-loop load generator share core 0; Enclava runs as
``enclava serve`` (one worker, core 1) three times with a fresh data dir each: ``base`` without
sandboxed plugins; ``filter`` with ``pii_redactor`` (a Python guest, chat filter on requests)
and ``hello`` auto-enabled; ``light`` with ``keep``, a chat filter on requests whose guest is a
few lines of WebAssembly text (no CPython: it answers "keep the body" at once), which measures
what a filter costs apart from its guest's own work (the host's side of the call, the
instance, the request's encoding). The prompt carries an email address and a phone number, so
``pii_redactor`` rewrites every request and bumps two KV counters. "added" is the p50 latency
of ``filter`` (or ``light``) minus ``base``; "cpu/req" is the server's CPU time (its process
tree's utime + stime) per request, and "added cpu" that of ``filter`` (or ``light``) minus
``base``: what one filtered request costs, whatever else runs on the machine. The servers run
at once (the idle ones sleep) and their runs alternate, so a machine that gets noisier or
quieter during the bench moves every side alike; ``--repeat N`` measures every cell N times
per server and keeps the run with the median CPU per request. Endpoint rows are
``GET /api/v1/plugins/hello/hello``. Components are built (or taken from ``.cache/enclava``)
before the clock starts. Never part of the tests.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import servers
from loadgen import Job, Result, run_sync
from mock_upstream import MODEL
from procs import cpu_seconds

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "enclava"
KEEP_TOML = """name = "keep"
version = "1.0.0"
abi = "0.1.0"
description = "Keeps every chat request as it is (a guest without CPython)."

[filter]
order = 100
request = true
response = false

[limits]
memory_mb = 64
timeout_ms = 1000
instances = 2
"""
KEEP_WAT = "(call $ret (i32.const 0) (i32.const 256) (i32.const 14))"
"""``handle``: answer ``{"body": null}`` (keep the body), placed at 256 by ``component``."""
PROMPT = "Write to jane.doe@example.com or call +49 30 1234 5678 about the invoice."


def build(tmp: Path) -> Path:
    """The folder of built ``pii_redactor`` and ``hello`` plugins, under ``tmp``."""
    sys.path.insert(0, str(REPO))
    from builtin_plugins.wasm_plugins.build import build_plugin

    directory = tmp / "plugins"
    for name in ("pii_redactor", "hello"):
        build_plugin(REPO / "plugins" / name, CACHE / "wasm")
        (directory / name).mkdir(parents=True)
        for file in ("plugin.toml", "plugin.wasm"):
            shutil.copyfile(REPO / "plugins" / name / file, directory / name / file)
    return directory


def build_keep(tmp: Path) -> Path:
    """The folder of the ``keep`` filter (WebAssembly text, see ``KEEP_WAT``) and ``hello``."""
    sys.path.insert(0, str(REPO / "tests"))
    from support.wat_components import component

    directory = tmp / "light"
    (directory / "keep").mkdir(parents=True)
    (directory / "keep" / "plugin.toml").write_text(KEEP_TOML)
    wasm = component(KEEP_WAT, data=['{"body": null}'])
    (directory / "keep" / "plugin.wasm").write_bytes(wasm)
    shutil.copytree(tmp / "plugins" / "hello", directory / "hello")
    return directory


def chat_body(stream: bool = False) -> bytes:
    """A chat request whose prompt the filter rewrites."""
    messages = [{"role": "user", "content": PROMPT}]
    body = {"model": MODEL, "messages": messages, "max_tokens": 64, "stream": stream}
    return json.dumps(body).encode()


def filter_env(plugins: Path, enable: str = "pii_redactor,hello") -> dict[str, str]:
    """Settings that load ``plugins`` (from :func:`build`) with ``enable`` auto-enabled."""
    return {
        "ENCLAVA_WASM_PLUGINS_DIRECTORY": str(plugins),
        "ENCLAVA_WASM_PLUGINS_CACHE_DIR": str(CACHE / "native"),
        "ENCLAVA_WASM_PLUGINS_AUTO_ENABLE": enable,
    }


def _median(runs: list[Result]) -> Result:
    """The run with the median server CPU per request."""
    return sorted(runs, key=lambda r: r.cpu_ms or 0.0)[len(runs) // 2]


def _chat(server: servers.Server, level: int, duration: float) -> Job:
    url = server.base + "/chat/completions"
    return Job(url, chat_body(), server.token, concurrency=level, duration=duration)


def _interleaved(
    targets: dict[str, servers.Server], level: int, duration: float, repeat: int
) -> dict[str, Result]:
    """The chat cell at ``level`` for every target, their runs alternating."""
    runs: dict[str, list[Result]] = {name: [] for name in targets}
    for _ in range(repeat):
        for name, server in targets.items():
            job = _chat(server, level, duration)
            runs[name].append(run_sync(job, functools.partial(cpu_seconds, server.process.pid)))
    return {name: _median(results) for name, results in runs.items()}


def _cells(
    targets: dict[str, servers.Server], concurrency: list[int], duration: float, repeat: int
) -> dict[str, dict[str, Result]]:
    cells: dict[str, dict[str, Result]] = {name: {} for name in targets}
    plugged = targets["filter"]
    for level in concurrency:
        for name, result in _interleaved(targets, level, duration, repeat).items():
            cells[name][f"chat c={level}"] = result
        hello = Job(
            plugged.base + "/plugins/hello/hello",
            None,
            plugged.token,
            method="GET",
            concurrency=level,
            duration=duration,
        )
        probe = functools.partial(cpu_seconds, plugged.process.pid)
        cells["filter"][f"endpoint c={level}"] = _median(
            [run_sync(hello, probe) for _ in range(repeat)]
        )
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        tmp = Path(scratch)
        plugins = build(tmp)
        light = build_keep(tmp)
        mock = servers.start_mock(stack, tmp)
        targets: dict[str, servers.Server] = {}
        for target, extra in (
            ("base", {"ENCLAVA_WASM_PLUGINS_DIRECTORY": str(tmp / "none")}),
            ("filter", filter_env(plugins)),
            ("light", filter_env(light, "keep,hello")),
        ):
            env = servers.enclava_env(tmp / f"data-{target}", mock.base, **extra)
            targets[target] = servers.start_enclava(stack, env, tmp / f"{target}.log")
        servers.settle()
        results = _cells(targets, levels, args.duration, args.repeat)
    _report(results, levels, args.json)


def _report(results: dict[str, dict[str, Result]], levels: list[int], out: Path | None) -> None:
    rows: dict[str, object] = {}
    print(
        f"{'cell':<22}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'added p50':>11}"
        f"{'cpu/req ms':>12}{'added cpu':>11}{'errors':>8}"
    )
    for target, cells in results.items():
        for cell, result in cells.items():
            summary = result.summary()
            added = added_cpu = ""
            if target != "base" and cell.startswith("chat"):
                base = results["base"][cell]
                added = f"{float(summary['p50_ms']) - float(base.summary()['p50_ms']):.2f}"  # type: ignore[arg-type]
                added_cpu = f"{(result.cpu_ms or 0.0) - (base.cpu_ms or 0.0):.3f}"
            rows[f"{target} {cell}"] = {
                **summary,
                "added_p50_ms": added or None,
                "added_cpu_ms_per_req": added_cpu or None,
            }
            print(
                f"{target + ' ' + cell:<22}{summary['rps']:>9}{float(summary['p50_ms']):>9.2f}"  # type: ignore[arg-type]
                f"{float(summary['p99_ms']):>9.2f}{added:>11}{result.cpu_ms or 0.0:>12.3f}"  # type: ignore[arg-type]
                f"{added_cpu:>11}{summary['errors']:>8}"
            )
    if out is not None:
        out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
