"""The peers the gateway bench compares against: LiteLLM proxy (Python) and Portkey (Node).

Both are installed on first use into ignored folders under ``bench/`` and pinned:
LiteLLM ``litellm[proxy]`` into ``bench/.venv-litellm``; Portkey's ``@portkey-ai/gateway`` from
npm into ``bench/.venv-portkey``, with its direct dependencies pinned by npm ``overrides`` to
the versions of the gateway's own ``package-lock.json`` at that tag (a newer
``@hono/node-server`` breaks every streamed chat). Each runs as one process pinned to the
server core, the mock as its OpenAI-compatible upstream.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from mock_upstream import MODEL
from procs import SERVER_CPU, free_port, spawn, wait_until
from servers import BENCH, UPSTREAM_KEY, Server, lists_model

__all__ = ["LITELLM_VERSION", "PORTKEY_VERSION", "start_litellm", "start_portkey"]

LITELLM_VERSION = "1.108.7"
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_KEY = "sk-bench-master"
PORTKEY_VERSION = "1.15.2"
PORTKEY_DIR = BENCH / ".venv-portkey"
PORTKEY_PINS = {
    # From package-lock.json of Portkey-AI/gateway at tag v1.15.2 (its direct dependencies).
    "@aws-crypto/sha256-js": "5.2.0",
    "@cfworker/json-schema": "4.0.3",
    "@hono/node-server": "1.13.5",
    "@hono/node-ws": "1.2.0",
    "@portkey-ai/mustache": "2.1.3",
    "@smithy/signature-v4": "2.1.1",
    "@types/mustache": "4.2.5",
    "async-retry": "1.3.3",
    "avsc": "5.7.7",
    "hono": "4.9.7",
    "ioredis": "5.8.0",
    "jose": "6.0.11",
    "patch-package": "8.0.1",
    "ws": "8.18.3",
    "zod": "3.25.76",
}


def ensure_litellm() -> Path:
    """``bench/.venv-litellm/bin/litellm``, creating the venv on first use."""
    litellm = LITELLM_VENV / "bin" / "litellm"
    if litellm.exists():
        return litellm
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV}", flush=True)
    subprocess.run(["python3", "-m", "venv", str(LITELLM_VENV)], check=True, timeout=300)
    pip = str(LITELLM_VENV / "bin" / "pip")
    spec = f"litellm[proxy]=={LITELLM_VERSION}"
    subprocess.run([pip, "install", "--quiet", spec], check=True, timeout=1800)
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
    config = str(_litellm_config(tmp, upstream))
    argv = [str(litellm), "--config", config, "--host", "127.0.0.1", "--port", str(port)]
    proc = spawn(
        stack, "litellm", [*argv, "--num_workers", "1"], env=env, log=tmp / "litellm.log", cpu=cpu
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(
        proc,
        lambda: lists_model(base + "/v1/models", LITELLM_KEY),
        timeout=240,
        what="the mock's model in /v1/models",
    )
    return Server(proc, base + "/v1", LITELLM_KEY)


def _portkey_entry() -> Path:
    return PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"


def ensure_portkey() -> Path:
    """The gateway's ``start-server.js``, installing it with npm on first use."""
    entry = _portkey_entry()
    if entry.exists():
        return entry
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise SystemExit("node and npm are needed for the Portkey column")
    print(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {PORTKEY_DIR} (first use)")
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "enclava-bench-portkey",
        "private": True,
        "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION},
        "overrides": PORTKEY_PINS,
    }
    (PORTKEY_DIR / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    argv = [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"]
    subprocess.run(argv, cwd=PORTKEY_DIR, check=True, timeout=900)
    if not entry.exists():
        raise SystemExit(f"@portkey-ai/gateway installed but {entry} is missing")
    return entry


def start_portkey(stack: ExitStack, tmp: Path, upstream: str, cpu: int = SERVER_CPU) -> Server:
    """Portkey gateway (Node, one process); clients send the provider config as headers."""
    entry = ensure_portkey()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTKEY", "NODE_"))}
    env |= {"NODE_ENV": "production", "HOME": str(tmp)}
    argv = ["node", str(entry), f"--port={port}", "--headless"]
    proc = spawn(stack, "portkey", argv, env=env, log=tmp / "portkey.log", cpu=cpu)
    base = f"http://127.0.0.1:{port}"
    wait_until(proc, lambda: _portkey_up(base), timeout=60, what="an answer on /")
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream,
    }
    return Server(proc, base + "/v1", UPSTREAM_KEY, headers)


def _portkey_up(base: str) -> bool:
    with urllib.request.urlopen(base + "/", timeout=5) as response:
        return bool(response.status == 200)
