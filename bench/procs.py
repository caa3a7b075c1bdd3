"""Process helpers shared by the benches: ports, pinning, CPU time and RSS of a process tree.

CPU time is read from ``/proc/<pid>/stat`` (utime + stime) for the process and every live
descendant (found through ``/proc/<pid>/task/<tid>/children``), so a server that forks workers
is charged for all of them. Every process started here gets its own session, and ``stop``
signals only that process group.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "LOADGEN_CPU",
    "SERVER_CPU",
    "ForeignLoad",
    "Spawned",
    "cpu_seconds",
    "free_port",
    "get_json",
    "pin_self",
    "rss_mib",
    "run_fast",
    "spawn",
    "wait_until",
]

LOADGEN_CPU = 0
"""Load generator and mock upstream share this core."""
SERVER_CPU = 1
"""The gateway under test runs alone on this core."""
TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin_self(cpu: int) -> None:
    """Pin this process to ``cpu`` when the machine has it (no-op on a one-core box)."""
    if cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 1000:
        current = todo.pop()
        found.append(current)
        try:
            tids = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                children = Path(f"/proc/{current}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            todo.extend(int(child) for child in children)
    return found


def _stat_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its live descendants, in seconds."""
    return sum(_stat_cpu(p) for p in tree(pid))


def rss_mib(pid: int) -> float:
    """Resident set of ``pid`` alone, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Spawned:
    """A started server process (own session); ``stop`` ends its process group."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass


def spawn(
    stack: ExitStack,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    cpu: int | None,
) -> Spawned:
    """Start ``argv`` (pinned to ``cpu`` with taskset), output to ``log``; stopped by ``stack``."""
    prefix = ["taskset", "-c", str(cpu)] if cpu is not None and os.cpu_count() != 1 else []
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*prefix, *argv],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    spawned = Spawned(name, proc, log)
    stack.callback(spawned.stop)
    return spawned


def wait_until(spawned: Spawned, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``ready`` until true; raise with the log tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not spawned.alive():
            raise SystemExit(f"{spawned.name} exited before {what}:\n{spawned.tail()}")
        try:
            if ready():
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{spawned.name}: no {what} within {timeout:.0f} s:\n{spawned.tail()}")


def get_json(url: str, token: str = "") -> object:
    """GET ``url`` (loopback) and decode its JSON; raises on a non-2xx answer."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _machine_busy() -> float:
    """CPU seconds all cores spent outside idle/iowait since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    guest = sum(fields[8:10]) if len(fields) > 9 else 0  # already counted in user/nice
    return (sum(fields) - idle - guest) / TICKS


class ForeignLoad:
    """CPU used by processes outside this bench's tree between ``__init__`` and ``report``."""

    def __init__(self, also_ours: Sequence[int] = ()) -> None:
        self._pids = [os.getpid(), *also_ours]
        self._began = time.monotonic()
        self._busy = _machine_busy()
        self._ours = self._our_cpu()

    def _our_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self._pids)

    def report(self) -> str:
        wall = time.monotonic() - self._began
        foreign = (_machine_busy() - self._busy) - (self._our_cpu() - self._ours)
        share = max(0.0, foreign) / wall * 100 if wall else 0.0
        warn = " — results are noisy, rerun on a quiet machine" if share > 5 else ""
        return f"other processes used {share:.0f}% of one core during the measurement{warn}"


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop (shipped with uvicorn[standard]), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(main)
    return uvloop.run(main)
