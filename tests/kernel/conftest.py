"""Fixtures for the CLI tests: an empty working directory and no ENCLAVA_* from the machine, and
a stand-in for a Qdrant server's readiness probe."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# ``serve`` exports its overrides to os.environ for uvicorn's factory; listing them here makes
# monkeypatch remove them again after each test.
_SERVE_EXPORTS = (
    "ENCLAVA_CONFIG_FILE",
    "ENCLAVA_SERVER_HOST",
    "ENCLAVA_SERVER_PORT",
    "ENCLAVA_SERVER_WORKERS",
    "PROMETHEUS_MULTIPROC_DIR",  # serve --workers N shares metrics through files
)


@pytest.fixture
def clean_cwd_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in an empty directory with no ENCLAVA_* variable from the machine."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ENCLAVA_")]:
        monkeypatch.delenv(name)
    for name in _SERVE_EXPORTS:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture
def qdrant_readyz() -> Iterator[str]:
    """A loopback server answering Qdrant's ``GET /readyz`` (all ``serve``'s preflight asks of a
    Qdrant server; no Qdrant server binary exists on this machine)."""

    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/readyz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
