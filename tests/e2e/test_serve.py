"""``enclava serve`` as a real process: ready within seconds, clean shutdown, data kept."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ENCLAVA = Path(sys.executable).with_name("enclava")
STARTUP_LIMIT_S = 30.0  # generous: a bound for CI, not a performance target (see bench/)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    env["ENCLAVA_DATA_DIR"] = str(data_dir)
    return env


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early with {proc.returncode}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve did not answer /health/ready in time")


def _serve(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(ENCLAVA), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(tmp_path / "data"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.slow
def test_serve_answers_ready_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    proc = _serve(tmp_path, port)
    try:
        response = _wait_ready(port, proc)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        missing = httpx.get(f"http://127.0.0.1:{port}/api/v1/nope", timeout=2)
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found_error"
        assert "server" not in missing.headers
    finally:
        code, output = _stop(proc)
    assert code == 0, output
    assert "Traceback" not in output
    key = tmp_path / "data" / "secrets" / "files.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data" / "enclava.db").is_file()


@pytest.mark.slow
def test_serve_keeps_its_secrets_across_restarts(tmp_path: Path) -> None:
    keys = []
    for _ in range(2):
        port = _free_port()
        proc = _serve(tmp_path, port)
        try:
            assert _wait_ready(port, proc).status_code == 200
        finally:
            _stop(proc)
        keys.append((tmp_path / "data" / "secrets" / "files.key").read_bytes())
    assert keys[0] == keys[1]


@pytest.mark.slow
def test_serve_refuses_bad_config_with_exit_code(tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "data")
    env["ENCLAVA_SERVER_PORTT"] = "1"
    result = subprocess.run(
        [str(ENCLAVA), "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert b"ENCLAVA_SERVER_PORTT" in result.stderr
    assert b"Traceback" not in result.stderr
