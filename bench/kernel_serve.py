"""Kernel benchmark: ``enclava serve`` startup time, idle RSS, and CPU per request.

Usage: ``.venv/bin/python bench/kernel_serve.py [--runs 3] [--requests 3000] [--concurrency 16]``

Method (as in shared notes/performance.md): the server runs as a real process with embedded
stores; a closed-loop aiohttp client in this process drives it over loopback; CPU/request is the
server's utime+stime delta divided by completed requests. The bytecode is cached as an installed
package or the Docker image (``compileall``) has it: a discarded warm-up start writes it to a
temporary ``PYTHONPYCACHEPREFIX``, even when the shell sets ``PYTHONDONTWRITEBYTECODE`` (which
would otherwise compile every module of the checkout on every start). Each run times a first
start on a fresh data directory (secrets and schema created) and a restart on it; idle RSS and
CPU are read on the restarted server. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

ENCLAVA = Path(sys.executable).with_name("enclava")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(
    data_dir: Path, port: int, pycache: Path | None = None
) -> tuple[subprocess.Popen[bytes], float]:
    """``enclava serve`` on ``port``, and the seconds until ``/health/ready`` answered 200. With
    ``pycache``, its bytecode is cached there (as an installed package or the image has it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    env |= {"ENCLAVA_DATA_DIR": str(data_dir), "ENCLAVA_SERVER_LOG_LEVEL": "warning"}
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [str(ENCLAVA), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return proc, time.perf_counter() - began
        except httpx.TransportError:
            time.sleep(0.02)
        if proc.poll() is not None:
            raise SystemExit("enclava serve exited during startup")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


async def load(url: str, requests: int, concurrency: int) -> float:
    """Closed loop: ``concurrency`` workers share ``requests`` GETs; returns wall seconds."""
    remaining = requests
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.get(url) as response:
                    await response.read()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began


class Figures:
    """Per run: seconds to ready (first start, restart), idle RSS (MiB), CPU per request (ms),
    requests per second."""

    def __init__(self) -> None:
        self.first: list[float] = []
        self.startup: list[float] = []
        self.rss: list[float] = []
        self.cpu: list[float] = []
        self.rps: list[float] = []


def run_once(args: argparse.Namespace, pycache: Path, figures: Figures) -> None:
    """A first start on a fresh data directory (secrets and schema created), stopped; a restart
    on it, then idle RSS and a load."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc, first = start(Path(tmp), port, pycache)
        stop(proc)
        figures.first.append(first)
        proc, startup = start(Path(tmp), port, pycache)
        try:
            figures.startup.append(startup)
            time.sleep(0.5)
            figures.rss.append(rss_mib(proc.pid))
            url = f"http://127.0.0.1:{port}/health/live"
            asyncio.run(load(url, 300, args.concurrency))  # warm-up
            before = cpu_seconds(proc.pid)
            wall = asyncio.run(load(url, args.requests, args.concurrency))
            figures.cpu.append((cpu_seconds(proc.pid) - before) / args.requests * 1000)
            figures.rps.append(args.requests / wall)
        finally:
            stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    figures = Figures()
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as tmp:
        pycache = Path(cache)
        stop(start(Path(tmp), free_port(), pycache)[0])  # warm-up: writes the bytecode cache
        for _ in range(args.runs):
            run_once(args, pycache, figures)
    median = statistics.median
    for name, seconds in (("first start", figures.first), ("restart", figures.startup)):
        each = [round(s, 2) for s in seconds]
        print(f"{name} to /health/ready: median {median(seconds):.2f} s {each}")
    print(f"idle RSS after ready:      median {median(figures.rss):.1f} MiB")
    print(
        f"GET /health/live c={args.concurrency}: CPU/req median {median(figures.cpu):.3f} ms, "
        f"{median(figures.rps):.0f} req/s"
    )


if __name__ == "__main__":
    main()
