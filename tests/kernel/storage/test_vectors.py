from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kernel.errors import ConfigError, ConflictError, StoreUnavailableError
from kernel.storage.vectors import (
    EmbeddedEngineName,
    VectorPoint,
    VectorStore,
    open_vector_store,
)

POINTS = [
    VectorPoint(id="doc-1#0", vector=[1.0, 0.0, 0.0], payload={"owner": "alice", "n": 1}),
    VectorPoint(id="doc-2#0", vector=[0.0, 1.0, 0.0], payload={"owner": "bob", "n": 3}),
]
ENGINES = {"edge": "qdrant-edge", "local": "qdrant"}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> EmbeddedEngineName:
    """Each embedded engine: qdrant-edge-py (the default) and qdrant-client's local mode."""
    name: EmbeddedEngineName = request.param
    return name


@pytest.fixture
async def store(tmp_path: Path, engine: EmbeddedEngineName) -> AsyncIterator[VectorStore]:
    vectors = open_vector_store("", "", tmp_path, embedded_engine=engine)
    yield vectors
    await vectors.close()


async def test_embedded(store: VectorStore, tmp_path: Path, engine: EmbeddedEngineName) -> None:
    assert store.embedded
    assert (tmp_path / ENGINES[engine]).is_dir()
    await store.ping()


def test_edge_is_the_default(tmp_path: Path) -> None:
    open_vector_store("", "", tmp_path, lazy_lock=True)
    assert (tmp_path / "qdrant-edge").is_dir()
    assert not (tmp_path / "qdrant").exists()


async def test_reopen_persists(tmp_path: Path, engine: EmbeddedEngineName) -> None:
    first = open_vector_store("", "", tmp_path, embedded_engine=engine)
    await first.ensure_collection("chunks", dimensions=3)
    await first.upsert("chunks", POINTS)
    await first.close()
    with pytest.raises(StoreUnavailableError):
        await first.count("chunks")

    second = open_vector_store("", "", tmp_path, embedded_engine=engine)
    try:
        assert await second.count("chunks") == 2
        await second.ensure_collection("chunks", dimensions=3)
        with pytest.raises(ConflictError):
            await second.ensure_collection("chunks", dimensions=4)
        hits = await second.search("chunks", [0.0, 1.0, 0.0], limit=1, must={"owner": "bob"})
        assert hits[0].id == "doc-2#0"
    finally:
        await second.close()


async def test_second_open_while_in_use(
    store: VectorStore, tmp_path: Path, engine: EmbeddedEngineName
) -> None:
    with pytest.raises(StoreUnavailableError, match="in use"):
        open_vector_store("", "", tmp_path, embedded_engine=engine)


async def test_lazy_lock_is_taken_at_first_use(tmp_path: Path, engine: EmbeddedEngineName) -> None:
    holder = open_vector_store("", "", tmp_path, embedded_engine=engine)
    lazy = open_vector_store("", "", tmp_path, embedded_engine=engine, lazy_lock=True)
    try:
        await lazy.ping()
        with pytest.raises(StoreUnavailableError, match="in use"):
            await lazy.ensure_collection("chunks", dimensions=3)
    finally:
        await lazy.close()
        await holder.close()


async def test_edge_keeps_no_half_collection(tmp_path: Path) -> None:
    """A collection is built aside and renamed into place; a dropped one leaves no files."""
    store = open_vector_store("", "", tmp_path)
    try:
        await store.ensure_hybrid_collection("h", dimensions=3)
        assert sorted(p.name for p in (tmp_path / "qdrant-edge").iterdir()) == [
            ".enclava.lock",
            "h",
        ]
        assert await store.drop_collection("h")
        assert [p.name for p in (tmp_path / "qdrant-edge").iterdir()] == [".enclava.lock"]
    finally:
        await store.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_server_unreachable(tmp_path: Path) -> None:
    store = open_vector_store(f"http://127.0.0.1:{_closed_port()}", "", tmp_path)
    try:
        assert not store.embedded
        assert not (tmp_path / "qdrant").exists()
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as info:
            await store.ping()
        assert time.monotonic() - started < 2
        assert info.value.store == "vectors"
        with pytest.raises(StoreUnavailableError):
            await store.count("chunks")
    finally:
        await store.close()


def test_bad_server_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"qdrant\.url") as info:
        open_vector_store("ftp://user:hunter2@example.com", "", tmp_path)
    assert "hunter2" not in str(info.value)


def test_import_is_lazy() -> None:
    code = (
        "import sys, kernel.storage.vectors, kernel.storage.vector_edge, "
        "kernel.storage.vector_client; "
        "print('qdrant_client' in sys.modules, 'qdrant_edge' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        cwd=Path(__file__).parents[3],
    )
    assert result.stdout.strip() == "False False"


@pytest.mark.parametrize(
    ("engine", "module"), [("edge", "qdrant_edge"), ("local", "qdrant_client")]
)
def test_engine_is_loaded_only_when_vectors_are_used(
    tmp_path: Path, engine: str, module: str
) -> None:
    """Boot and readiness import no engine (qdrant-client: ~80 MB, > 1 s); the first operation
    loads the configured one only."""
    script = f"""
import asyncio, sys
from pathlib import Path
from kernel.storage.vectors import VectorPoint, open_vector_store

async def main():
    store = open_vector_store("", "", Path({str(tmp_path)!r}), embedded_engine={engine!r})
    await store.ping()
    assert "qdrant_client" not in sys.modules and "qdrant_edge" not in sys.modules
    await store.ensure_collection("c", dimensions=2)
    await store.upsert("c", [VectorPoint(id="a", vector=[1.0, 0.0])])
    assert {module!r} in sys.modules
    assert {engine!r} == "local" or "qdrant_client" not in sys.modules
    await store.close()

asyncio.run(main())
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


@pytest.mark.parametrize(("engine", "directory"), sorted(ENGINES.items()))
async def test_setting_picks_the_embedded_engine(
    tmp_path: Path, engine: str, directory: str
) -> None:
    """``qdrant.embedded_engine`` (ENCLAVA_QDRANT_EMBEDDED_ENGINE) reaches the opened store."""
    from kernel.settings import load_settings
    from kernel.storage.stores import open_stores

    env = {"ENCLAVA_DATA_DIR": str(tmp_path), "ENCLAVA_QDRANT_EMBEDDED_ENGINE": engine}
    stores = open_stores(load_settings(env=env))
    try:
        await stores.vectors.ensure_collection("c", dimensions=2)
        assert await stores.vectors.count("c") == 0
        assert (tmp_path / directory / ".enclava.lock").exists()
        other = next(d for e, d in ENGINES.items() if e != engine)
        assert not (tmp_path / other).exists()
    finally:
        await stores.close()
