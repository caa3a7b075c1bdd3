"""Starting the processes the benches measure: the mock upstream, the floor and Enclava.

Each start function returns once the server answers and (for the gateways) lists the mock's
model; every process is stopped by the ``ExitStack`` it was started under. Enclava runs as the
installed ``enclava serve`` (one worker) with a fresh data dir, an admin and an API key made by
its own CLI (``workers`` > 1 runs it with ``--workers``). The peers (LiteLLM, Portkey) are
started by ``peers.py``, the production setup (PostgreSQL, Redis) is prepared by
``production.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from mock_upstream import MODEL
from procs import LOADGEN_CPU, SERVER_CPU, Spawned, free_port, get_json, spawn, wait_until

__all__ = [
    "Server",
    "create_key",
    "enclava_env",
    "lists_model",
    "start_enclava",
    "start_floor",
    "start_mock",
]

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
ENCLAVA = str(Path(sys.executable).with_name("enclava"))
UPSTREAM_KEY = "sk-mock-upstream"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-pw-1234!x"


@dataclass(frozen=True)
class Server:
    """A started server: its process, base URL and the bearer token clients use."""

    process: Spawned
    base: str
    token: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers every request carries (a peer's provider config)."""


def start_mock(stack: ExitStack, tmp: Path, cpu: int = LOADGEN_CPU) -> Server:
    port = free_port()
    argv = [PYTHON, str(BENCH / "mock_upstream.py"), "--port", str(port)]
    proc = spawn(stack, "mock upstream", argv, env=os.environ, log=tmp / "mock.log", cpu=cpu)
    base = f"http://127.0.0.1:{port}/v1"
    wait_until(proc, lambda: bool(get_json(base + "/models")), timeout=20, what="/v1/models")
    return Server(proc, base, UPSTREAM_KEY)


def enclava_env(data_dir: Path, upstream: str, **extra: str) -> dict[str, str]:
    """Environment for ``enclava``: no inherited ENCLAVA_*; the mock as Privatemode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    env |= {
        "ENCLAVA_DATA_DIR": str(data_dir),
        "ENCLAVA_SERVER_LOG_LEVEL": "warning",
        "ENCLAVA_PRIVATEMODE_ENABLED": "true",
        "ENCLAVA_PRIVATEMODE_URL": upstream,
        "ENCLAVA_PRIVATEMODE_API_KEY": UPSTREAM_KEY,
        "ENCLAVA_REDPILL_ENABLED": "false",
        "ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE": "100000000",
    }
    return env | extra


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [ENCLAVA, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"enclava {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def create_key(env: dict[str, str]) -> str:
    """An admin and an API key with every public scope, through the CLI."""
    _cli(
        env,
        "admin",
        "create",
        "--email",
        ADMIN_EMAIL,
        "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )
    return _cli(env, "keys", "create", "--email", ADMIN_EMAIL, "--name", "bench")


def lists_model(url: str, token: str) -> bool:
    listing = get_json(url, token)
    data = listing.get("data", []) if isinstance(listing, dict) else []
    return any(isinstance(entry, dict) and entry.get("id") == MODEL for entry in data)


def start_enclava(
    stack: ExitStack, env: dict[str, str], log: Path, cpu: int | None = SERVER_CPU, workers: int = 1
) -> Server:
    """``enclava serve`` on a free port, ready and listing the mock's model."""
    key = create_key(env)
    port = free_port()
    argv = [ENCLAVA, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    proc = spawn(stack, "enclava", argv, env=env, log=log, cpu=cpu)
    base = f"http://127.0.0.1:{port}"
    wait_until(
        proc,
        lambda: lists_model(base + "/api/v1/models", key),
        timeout=90,
        what="the mock's model in /api/v1/models",
    )
    return Server(proc, base + "/api/v1", key)


def start_floor(stack: ExitStack, tmp: Path, upstream: str, cpu: int = SERVER_CPU) -> Server:
    """The bare Litestar + aiohttp forwarder (``floor.py``), one process on ``cpu``."""
    port = free_port()
    argv = [PYTHON, str(BENCH / "floor.py"), "--port", str(port), "--upstream", upstream]
    proc = spawn(stack, "floor", argv, env=os.environ, log=tmp / "floor.log", cpu=cpu)
    base = f"http://127.0.0.1:{port}/v1"
    job_url = base + "/chat/completions"
    wait_until(proc, lambda: _answers_chat(job_url), timeout=30, what="a chat answer")
    return Server(proc, base)


def _answers_chat(url: str) -> bool:
    body = b'{"model":"' + MODEL.encode() + b'","messages":[{"role":"user","content":"hi"}]}'
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return bool(response.status == 200)


def settle(seconds: float = 1.0) -> None:
    """Let background start-up work finish before idle figures are read."""
    time.sleep(seconds)
