"""Real processes a chaos test breaks on purpose: a throwaway PostgreSQL and Redis of its own, the
Privatemode simulator (``enclava simulate``) and ``enclava serve`` replicas.

Every process runs in its own session and is stopped by the ``ExitStack`` it was started under,
so a failing test leaves nothing behind. PostgreSQL refuses to run as root: as root its commands
run as the ``postgres`` user (``runuser``), in a folder outside ``/root`` it can reach.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

__all__ = [
    "ENCLAVA",
    "Postgres",
    "Redis",
    "Replica",
    "free_port",
    "simulator",
    "wait_for",
]

ENCLAVA = str(Path(sys.executable).with_name("enclava"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``check`` until it is true; AssertionError naming ``what`` (with the tail of ``log``)
    after ``timeout`` s or as soon as ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"gave up waiting for {what} after {timeout} s\n{tail}")


def _spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise AssertionError("PostgreSQL's initdb is not installed (apt-get install postgresql)")
    return Path(initdb).resolve().parent


class Postgres:
    """A PostgreSQL cluster in ``root/pg`` on a free port: ``start()``, ``stop()``, again."""

    def __init__(self, root: Path) -> None:
        self.bin = _pg_bin()
        self.dir = root / "pg"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else ""
        self.dir.mkdir()
        if self.user:
            shutil.chown(self.dir, self.user)
        data = str(self.dir / "data")
        self._run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin / tool), *args]
        if tool == "initdb":
            argv += ["--locale=C.UTF-8", "--no-sync"]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(argv, cwd="/", capture_output=True, text=True, timeout=90)
        if done.returncode != 0:
            raise AssertionError(f"{tool} failed: {done.stdout[-800:]} {done.stderr[-800:]}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        log = str(self.dir / "server.log")
        data = str(self.dir / "data")
        self._run("pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.dir / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")


class Redis:
    """``redis-server`` without persistence on a free port: a kill loses everything, as asked."""

    def __init__(self, root: Path) -> None:
        if shutil.which("redis-server") is None:
            raise AssertionError("redis-server is not installed (apt-get install redis-server)")
        self.dir = root / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.dir)]
        self.proc = _spawn(argv, dict(os.environ), self.dir / "redis.log")
        log = self.dir / "redis.log"
        wait_for(self._answers, timeout=10, what="redis-server", proc=self.proc, log=log)

    def _answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def kill(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)
            self.proc = None


class Replica:
    """One ``enclava serve`` process (one worker) on its own port and data dir."""

    def __init__(self, name: str, root: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = root / f"{name}.log"
        self.env = {**env, "ENCLAVA_DATA_DIR": str(root / f"data-{name}")}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: Callable[[str], bool], timeout: float = 60) -> None:
        argv = [ENCLAVA, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = _spawn(argv, self.env, self.log)
        wait_for(
            lambda: ready(self.base),
            timeout=timeout,
            what=f"{self.name} ready",
            proc=self.proc,
            log=self.log,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final usage flush."""
        if self.proc is not None:
            _kill_group(self.proc)
            self.proc = None

    def terminate(self) -> None:
        """SIGTERM, as an operator stops it (the usage buffer is flushed)."""
        if self.proc is not None:
            _kill_group(self.proc, signal.SIGTERM)
            self.proc = None


def simulator(stack: ExitStack, root: Path) -> str:
    """``enclava simulate privatemode`` on a free port; its base URL (without ``/v1``)."""
    port = free_port()
    argv = [ENCLAVA, "simulate", "privatemode", "--host", "127.0.0.1", "--port", str(port)]
    log = root / "simulator.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    proc = _spawn(argv, env | {"ENCLAVA_DATA_DIR": str(root / "data-simulator")}, log)
    stack.callback(_kill_group, proc, signal.SIGTERM)
    base = f"http://127.0.0.1:{port}"
    wait_for(
        lambda: httpx.get(f"{base}/_sim/faults", timeout=1).status_code == 200,
        timeout=30,
        what="the simulator",
        proc=proc,
        log=log,
    )
    return base
