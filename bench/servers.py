"""Starting the processes the benches measure: the mock upstream, Enclava and LiteLLM proxy.

Each start function returns once the server answers and (for the gateways) lists the mock's
model; every process is stopped by the ``ExitStack`` it was started under. Enclava runs as the
installed ``enclava serve`` (one worker) with a fresh data dir, an admin and an API key made by
its own CLI; LiteLLM runs from ``bench/.venv-litellm``, created on first use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from mock_upstream import MODEL
from procs import LOADGEN_CPU, SERVER_CPU, Spawned, free_port, get_json, spawn, wait_until

__all__ = [
    "LITELLM_VENV",
    "Server",
    "enclava_env",
    "ensure_litellm",
    "start_enclava",
    "start_litellm",
    "start_mock",
]

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
ENCLAVA = str(Path(sys.executable).with_name("enclava"))
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_KEY = "sk-bench-master"
UPSTREAM_KEY = "sk-mock-upstream"
ADMIN_EMAIL = "bench@example.com"


@dataclass(frozen=True)
class Server:
    """A started server: its process, base URL and the bearer token clients use."""

    process: Spawned
    base: str
    token: str = ""


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
        stdin="bench-pw-1234!x\n",
    )
    return _cli(env, "keys", "create", "--email", ADMIN_EMAIL, "--name", "bench")


def _lists_model(url: str, token: str) -> bool:
    listing = get_json(url, token)
    data = listing.get("data", []) if isinstance(listing, dict) else []
    return any(isinstance(entry, dict) and entry.get("id") == MODEL for entry in data)


def start_enclava(
    stack: ExitStack, env: dict[str, str], log: Path, cpu: int = SERVER_CPU
) -> Server:
    """``enclava serve`` on a free port (one worker), ready and listing the mock's model."""
    key = create_key(env)
    port = free_port()
    argv = [ENCLAVA, "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = spawn(stack, "enclava", argv, env=env, log=log, cpu=cpu)
    base = f"http://127.0.0.1:{port}"
    wait_until(
        proc,
        lambda: _lists_model(base + "/api/v1/models", key),
        timeout=90,
        what="the mock's model in /api/v1/models",
    )
    return Server(proc, base + "/api/v1", key)


def ensure_litellm() -> Path:
    """``bench/.venv-litellm/bin/litellm``, creating the venv on first use."""
    litellm = LITELLM_VENV / "bin" / "litellm"
    if litellm.exists():
        return litellm
    print(f"installing litellm[proxy] into {LITELLM_VENV} (first use; takes minutes)", flush=True)
    subprocess.run(["python3", "-m", "venv", str(LITELLM_VENV)], check=True, timeout=300)
    pip = str(LITELLM_VENV / "bin" / "pip")
    subprocess.run([pip, "install", "--quiet", "litellm[proxy]"], check=True, timeout=1800)
    if not litellm.exists():
        raise SystemExit("litellm[proxy] installed but bin/litellm is missing")
    return litellm


def _litellm_config(tmp: Path, upstream: str) -> Path:
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream}\n"
        f"      api_key: {UPSTREAM_KEY}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  set_verbose: false\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_KEY}\n"
    )
    return config


def start_litellm(stack: ExitStack, tmp: Path, upstream: str, cpu: int = SERVER_CPU) -> Server:
    """LiteLLM proxy, one worker, the mock as an openai-compatible model; auth by master key."""
    litellm = ensure_litellm()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM", "DATABASE_URL"))}
    env |= {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MODE": "PRODUCTION",
        "NO_DOCS": "True",
        "HOME": str(tmp),
    }
    argv = [
        str(litellm),
        "--config",
        str(_litellm_config(tmp, upstream)),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    proc = spawn(stack, "litellm", argv, env=env, log=tmp / "litellm.log", cpu=cpu)
    base = f"http://127.0.0.1:{port}"
    wait_until(
        proc,
        lambda: _lists_model(base + "/v1/models", LITELLM_KEY),
        timeout=240,
        what="the mock's model in /v1/models",
    )
    return Server(proc, base + "/v1", LITELLM_KEY)


def settle(seconds: float = 1.0) -> None:
    """Let background start-up work finish before idle figures are read."""
    time.sleep(seconds)
