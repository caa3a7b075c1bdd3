"""``enclava serve --demo`` as a real process: a key from the CLI, then the openai SDK."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from support.process import terminate

ENCLAVA = Path(sys.executable).with_name("enclava")
STARTUP_LIMIT_S = 30.0  # generous: a bound for CI, not a performance target
REDPILL_ONLY = "phala/qwen-2.5-7b-instruct"
PRIVATEMODE = "gpt-oss-120b"
PRIVATEMODE_EMBEDDING = "qwen3-embedding-4b"
EMAIL = "admin@example.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    return {**env, "ENCLAVA_DATA_DIR": str(tmp_path / "data"), **extra}


def _enclava(tmp_path: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENCLAVA), *argv],
        cwd=tmp_path,
        env=_env(tmp_path),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _api_key(tmp_path: Path) -> str:
    created = _enclava(
        tmp_path, "admin", "create", "--email", EMAIL, "--password-stdin", stdin="Demo-pass-2024!\n"
    )
    assert created.returncode == 0, created.stderr
    key = _enclava(tmp_path, "keys", "create", "--email", EMAIL, "--name", "demo")
    assert key.returncode == 0, key.stderr
    return key.stdout.strip()


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve --demo exited early with {proc.returncode}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve --demo did not answer /health/ready in time")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[openai.OpenAI, Path]]:
    """A key, then ``enclava serve --demo`` on a free port; yields an SDK client and the log."""
    key = _api_key(tmp_path)
    port, log = _free_port(), tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ENCLAVA), "serve", "--demo", "--port", str(port)],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(port, proc)
        base = f"http://127.0.0.1:{port}/api/v1"
        with openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=10) as client:
            yield client, log
    finally:
        terminate(proc)
    assert proc.returncode == 0, log.read_text()


def _chat_once_attested(client: openai.OpenAI, model: str) -> Any:
    """The first raw answer for ``model``; RedPill answers 503 until its attestation verified."""
    deadline = time.monotonic() + 15
    pending: openai.InternalServerError | None = None
    while time.monotonic() < deadline:
        try:
            return client.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "Hello demo"}]
            )
        except openai.InternalServerError as exc:
            if exc.status_code != 503:
                raise
            pending = exc
            time.sleep(0.2)
    raise AssertionError(f"{model} never became routable: {pending}")


@pytest.mark.slow
def test_serve_demo_chats_streams_and_embeds_through_both_simulators(
    demo: tuple[openai.OpenAI, Path],
) -> None:
    client, log = demo
    for model, provider in ((REDPILL_ONLY, "redpill"), (PRIVATEMODE, "privatemode")):
        raw = _chat_once_attested(client, model)
        assert raw.headers["x-enclava-provider"] == provider
        assert raw.headers["x-enclava-attestation"].startswith("simulated")
        completion = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello again"}]
        )
        assert completion.choices[0].message.content
    stream = client.chat.completions.create(
        model=REDPILL_ONLY, messages=[{"role": "user", "content": "Stream it"}], stream=True
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    embedding = client.embeddings.create(model=PRIVATEMODE_EMBEDDING, input="demo")
    assert len(embedding.data[0].embedding) == 2560
    banner = log.read_text()
    assert "DEMO MODE: providers are SIMULATED" in banner
    assert "Nothing here is confidential" in banner
    assert "Traceback" not in banner


@pytest.mark.slow
def test_serve_demo_refuses_the_real_redpill_url(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ENCLAVA), "serve", "--demo", "--port", str(_free_port())],
        cwd=tmp_path,
        env=_env(tmp_path, ENCLAVA_REDPILL_URL="https://api.redpill.ai/v1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "--demo runs against simulated providers only" in result.stderr
    assert "https://api.redpill.ai/v1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()
