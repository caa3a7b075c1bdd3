"""``enclava serve`` as real processes: ``--workers 2`` on PostgreSQL + Redis, and SIGTERM
draining an in-flight stream against the Privatemode simulator (``enclava simulate``).

The simulator paces its stream frames (``frame_interval_ms``), so a chat is still streaming
when the test stops the server; the shutdown grace (``server.shutdown_grace_seconds``) decides
whether it finishes or is cut.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.chaos import ENCLAVA, free_port, simulator, wait_for
from support.process import terminate

from builtin_plugins.simulators.keys import TEST_API_KEY

MODEL = "gpt-oss-120b"
EMAIL, PASSWORD = "ops@example.com", "Ops-pass-2024!"
STARTUP_S = 60.0  # bounds for CI, not performance targets


def _env(
    data_dir: Path, database_url: str, redis_url: str, prefix: str, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env | {
        "ENCLAVA_DATA_DIR": str(data_dir),
        "ENCLAVA_DATABASE_URL": database_url,
        "ENCLAVA_REDIS_URL": redis_url,
        "ENCLAVA_REDIS_PREFIX": prefix,
        "ENCLAVA_AUTH_JWT_SECRET": secrets.token_urlsafe(48),
        "ENCLAVA_API_KEYS_PEPPER": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ENCLAVA_REDPILL_ENABLED": "false",
        **extra,
    }


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [ENCLAVA, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"enclava {args}: {done.stdout} {done.stderr}"
    return done.stdout


def _api_key(env: dict[str, str]) -> str:
    _cli(env, "admin", "create", "--email", EMAIL, "--password-stdin", stdin=f"{PASSWORD}\n")
    return _cli(env, "keys", "create", "--email", EMAIL, "--name", "ops").strip()


class Server:
    """One ``enclava serve`` process (its own session) logging to ``log``."""

    def __init__(self, env: dict[str, str], log: Path, *argv: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        cmd = [ENCLAVA, "serve", "--host", "127.0.0.1", "--port", str(self.port), *argv]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, key: str) -> None:
        def routable() -> bool:
            listing = httpx.get(f"{self.base}/api/v1/models", headers=_auth(key), timeout=2)
            return listing.status_code == 200 and MODEL in listing.text

        wait_for(routable, timeout=STARTUP_S, what="serve ready", proc=self.proc, log=self.log)

    def stop(self) -> int:
        return terminate(self.proc, timeout=30)


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ExitStack, str]]:
    """An ExitStack (stops what a test started) and the simulator's base URL."""
    with ExitStack() as exits:
        yield exits, simulator(exits, tmp_path)


def _provider_env(sim: str) -> dict[str, str]:
    return {
        "ENCLAVA_PRIVATEMODE_ENABLED": "true",
        "ENCLAVA_PRIVATEMODE_URL": f"{sim}/v1",
        "ENCLAVA_PRIVATEMODE_API_KEY": TEST_API_KEY,
    }


# --- --workers 2 ----------------------------------------------------------------------------


@pytest.mark.slow
def test_two_workers_share_the_port_and_the_stores_without_qdrant(
    tmp_path: Path,
    stack: tuple[ExitStack, str],
    postgres_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    """No Qdrant server: with rag disabled the embedded vector store is never locked, so two
    workers boot; both answer on the one port, over the shared PostgreSQL and Redis."""
    exits, sim = stack
    env = _env(
        tmp_path / "data",
        postgres_url,
        redis_url,
        redis_prefix,
        ENCLAVA_PLUGINS_DISABLED='["rag"]',
        ENCLAVA_SERVER_LOG_LEVEL="info",
        **_provider_env(sim),
    )
    key = _api_key(env)
    server = Server(env, tmp_path / "serve.log", "--workers", "2")
    exits.callback(server.stop)
    server.wait_ready(key)
    wait_for(
        lambda: len(_worker_pids(server.log)) == 2,
        timeout=STARTUP_S,
        what="both workers started",
        proc=server.proc,
        log=server.log,
    )
    # Each worker alone serves chats on the shared port: with the other one paused (SIGSTOP, so
    # it accepts nothing), every new connection reaches this one. Every chat authenticates a key
    # stored in PostgreSQL and counts its rate limit in Redis.
    pids = sorted(int(pid) for pid in _worker_pids(server.log))
    for serving in pids:
        paused = [pid for pid in pids if pid != serving]
        for pid in paused:
            os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(3):
                _chat(server.base, key)
        finally:
            for pid in paused:
                os.kill(pid, signal.SIGCONT)
    for _ in range(6):
        _chat(server.base, key)
    assert server.stop() == 0
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "in use by another process" not in log
    assert not (tmp_path / "data" / "qdrant" / ".enclava.lock").exists() or _lock_free(
        tmp_path / "data" / "qdrant" / ".enclava.lock"
    )


def _chat(base: str, key: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:  # a fresh connection each time
        chat = client.post(
            "/api/v1/chat/completions",
            headers=_auth(key),
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"]


def _worker_pids(log: Path) -> set[str]:
    """PIDs of the workers that finished startup (uvicorn logs one line per worker)."""
    text = log.read_text(errors="replace")
    return set(re.findall(r"Started server process \[(\d+)\]", text))


def _lock_free(path: Path) -> bool:
    import fcntl

    with path.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


def test_two_workers_with_memory_kv_are_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    env["ENCLAVA_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [ENCLAVA, "serve", "--workers", "2", "--port", str(free_port())],
        env=env | {"ENCLAVA_PLUGINS_DISABLED": '["rag"]'},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "--workers 2 needs shared stores; set redis.url (ENCLAVA_REDIS_URL)" in done.stderr
    assert "qdrant" not in done.stderr  # rag disabled: no Qdrant server needed
    assert "Traceback" not in done.stderr


def test_two_workers_with_rag_need_a_qdrant_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    env["ENCLAVA_DATA_DIR"] = str(tmp_path / "data")
    env["ENCLAVA_REDIS_URL"] = "redis://127.0.0.1:1/0"  # never reached: refused before
    done = subprocess.run(
        [ENCLAVA, "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "set qdrant.url (ENCLAVA_QDRANT_URL)" in done.stderr
    assert "Traceback" not in done.stderr


# --- SIGTERM drains in-flight streams -------------------------------------------------------


class Stream:
    """A streamed chat read on a thread: every SSE ``data:`` payload, and how it ended."""

    def __init__(self, base: str, key: str, max_tokens: int) -> None:
        self.events: list[str] = []
        self.error: Exception | None = None
        self.started = threading.Event()
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Stream through the shutdown"}],
            "stream": True,
            "max_tokens": max_tokens,
        }
        self._thread = threading.Thread(target=self._run, args=(base, key, body), daemon=True)
        self._thread.start()

    def _run(self, base: str, key: str, body: dict[str, Any]) -> None:
        try:
            with httpx.stream(
                "POST",
                f"{base}/api/v1/chat/completions",
                headers=_auth(key),
                json=body,
                timeout=httpx.Timeout(60, read=60),
            ) as response:
                assert response.status_code == 200, response.read()
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        self.events.append(line.removeprefix("data:").strip())
                        self.started.set()
        except Exception as exc:  # the outcome under test
            self.error = exc
        finally:
            self.started.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the stream never ended"

    @property
    def done(self) -> bool:
        return bool(self.events) and self.events[-1] == "[DONE]"


def _draining_server(
    tmp_path: Path,
    stack: tuple[ExitStack, str],
    postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    grace: int,
) -> tuple[Server, str]:
    exits, sim = stack
    # Each frame after the first waits 100 ms; "longest" answers with every allowed token.
    paced = httpx.post(f"{sim}/_sim/faults", json={"frame_interval_ms": 100, "longest": True})
    assert paced.status_code == 200, paced.text
    env = _env(
        tmp_path / "data",
        postgres_url,
        redis_url,
        redis_prefix,
        ENCLAVA_SERVER_SHUTDOWN_GRACE_SECONDS=str(grace),
        ENCLAVA_SERVER_LOG_LEVEL="info",
        **_provider_env(sim),
    )
    key = _api_key(env)
    server = Server(env, tmp_path / "serve.log")
    exits.callback(lambda: server.proc.poll() is None and server.stop())
    server.wait_ready(key)
    return server, key


def _refuses_new_connections(base: str) -> bool:
    try:
        httpx.get(f"{base}/health/live", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def _stream_then_sigterm(server: Server, key: str, *, max_tokens: int) -> Stream:
    """Start a stream, wait for its first frames, then ask the server to stop."""
    stream = Stream(server.base, key, max_tokens=max_tokens)
    assert stream.started.wait(30)
    assert stream.error is None, stream.error
    server.proc.send_signal(signal.SIGTERM)
    return stream


@pytest.mark.slow
def test_sigterm_lets_an_in_flight_stream_finish_within_the_grace(
    tmp_path: Path,
    stack: tuple[ExitStack, str],
    postgres_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    server, key = _draining_server(tmp_path, stack, postgres_url, redis_url, redis_prefix, 60)
    stream = _stream_then_sigterm(server, key, max_tokens=20)  # ~2 s, far below the grace
    assert not stream.done, "the stream must still be running when the server is stopped"
    # Draining: the listening socket is closed at once, the open stream continues.
    wait_for(
        lambda: _refuses_new_connections(server.base),
        timeout=10,
        what="new connections refused while draining",
        proc=server.proc,
        log=server.log,
    )
    stream.join(60)
    assert stream.error is None, stream.error
    assert stream.done, stream.events[-3:]
    assert len(stream.events) > 2
    assert server.proc.wait(timeout=30) == 0, server.log.read_text()[-3000:]


@pytest.mark.slow
def test_sigterm_cuts_a_stream_longer_than_the_grace_and_exits(
    tmp_path: Path,
    stack: tuple[ExitStack, str],
    postgres_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    server, key = _draining_server(tmp_path, stack, postgres_url, redis_url, redis_prefix, 2)
    stream = _stream_then_sigterm(server, key, max_tokens=2000)  # ~200 s, far above the grace
    # The process exits soon after the grace (generous bound for a loaded CI machine).
    assert server.proc.wait(timeout=30) == 0, server.log.read_text()[-3000:]
    stream.join(30)
    # The client sees the stream end with an OpenAI-shaped error event instead of [DONE]: an
    # error the openai SDK raises, never a silently complete-looking answer.
    assert not stream.done
    assert stream.error is None, repr(stream.error)
    assert len(stream.events) > 2
    last = json.loads(stream.events[-1])
    assert last["error"]["code"] == "server_shutdown"
    assert last["error"]["type"] == "service_unavailable"
    assert all("error" not in event for event in stream.events[:-1])
    log = server.log.read_text(errors="replace")
    assert "timeout graceful shutdown exceeded" in log
