"""``enclava serve`` with a bad setting or an absent store: one line naming it, the documented
exit code (3 configuration, 4 store unavailable), no traceback, no secret — as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ENCLAVA = Path(sys.executable).with_name("enclava")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CLOSED = _closed_port()
CASES = {
    "redis-not-a-url": (
        {"ENCLAVA_REDIS_URL": "notaurl"},
        3,
        "setting redis.url (ENCLAVA_REDIS_URL): not a URL",
    ),
    "redis-scheme": ({"ENCLAVA_REDIS_URL": "http://cache"}, 3, "scheme 'http' is not supported"),
    "redis-unreachable": (
        {"ENCLAVA_REDIS_URL": f"redis://:s3cret@127.0.0.1:{CLOSED}/0"},
        4,
        "Storage backend 'kv' is unavailable: connection failed; check redis.url",
    ),
    "files-key-placeholder": (
        {"ENCLAVA_FILES_KEY": "change-me"},
        3,
        "setting files.key (ENCLAVA_FILES_KEY): key is not valid base64",
    ),
    "postgres-unreachable": (
        {"ENCLAVA_DATABASE_URL": f"postgresql+asyncpg://postgres:s3cret@127.0.0.1:{CLOSED}/x"},
        4,
        "Storage backend 'sql' is unavailable: connection refused; check database.url",
    ),
    "database-not-a-url": (
        {"ENCLAVA_DATABASE_URL": "s3cret"},
        3,
        "setting database.url (ENCLAVA_DATABASE_URL): not a valid SQLAlchemy URL",
    ),
    "qdrant-unreachable": (
        {"ENCLAVA_QDRANT_URL": f"http://127.0.0.1:{CLOSED}"},
        4,
        "Storage backend 'vectors' is unavailable: connection refused; check qdrant.url",
    ),
    "data-dir-unwritable": (
        {"ENCLAVA_DATA_DIR": "/proc/enclava"},
        3,
        "setting data_dir (ENCLAVA_DATA_DIR): /proc/enclava is not writable",
    ),
    "workers-on-embedded-stores": (
        {"ENCLAVA_SERVER_WORKERS": "2"},
        3,
        "--workers 2 needs shared stores",
    ),
    "unknown-variable": ({"ENCLAVA_REDIS_URI": "redis://x"}, 3, "ENCLAVA_REDIS_URI"),
    "bad-port": ({"ENCLAVA_SERVER_PORT": "eighty"}, 3, "server.port"),
}


@pytest.mark.slow
@pytest.mark.parametrize(("env", "code", "line"), list(CASES.values()), ids=list(CASES))
def test_bad_setting_or_absent_store_is_one_line(
    tmp_path: Path, env: dict[str, str], code: int, line: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    clean["ENCLAVA_DATA_DIR"] = str(tmp_path / "data")
    clean["ENCLAVA_SERVER_PORT"] = str(CLOSED)  # never served: every case stops before
    done = subprocess.run(
        [str(ENCLAVA), "serve"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == code, output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("enclava: ")
    assert line in output
    assert "s3cret" not in output
