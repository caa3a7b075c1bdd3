from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kernel.errors import (
    ConfigError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    StoreUnavailableError,
)
from kernel.storage.vectors import VectorPoint, VectorStore, open_vector_store

POINTS = [
    VectorPoint(id="doc-1#0", vector=[1.0, 0.0, 0.0], payload={"owner": "alice", "n": 1}),
    VectorPoint(id="doc-1#1", vector=[0.9, 0.1, 0.0], payload={"owner": "alice", "n": 2}),
    VectorPoint(id="doc-2#0", vector=[0.0, 1.0, 0.0], payload={"owner": "bob", "n": 3}),
    VectorPoint(id="doc-3#0", vector=[0.8, 0.0, 0.2], payload={"owner": "bob", "public": True}),
]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[VectorStore]:
    vectors = open_vector_store("", "", tmp_path)
    yield vectors
    await vectors.close()


async def test_embedded(store: VectorStore, tmp_path: Path) -> None:
    assert store.embedded
    assert (tmp_path / "qdrant").is_dir()
    await store.ping()


async def test_ensure_is_idempotent(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    await store.ensure_collection("chunks", dimensions=3)
    assert await store.count("chunks") == 0


async def test_dimension_conflict(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    with pytest.raises(ConflictError, match="3 dimensions"):
        await store.ensure_collection("chunks", dimensions=4)
    with pytest.raises(ConflictError):
        await store.ensure_collection("chunks", dimensions=3, distance="dot")


async def test_upsert_search_filter(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    await store.upsert("chunks", POINTS)
    assert await store.count("chunks") == 4

    hits = await store.search("chunks", [1.0, 0.0, 0.0], limit=3)
    assert [hit.id for hit in hits] == ["doc-1#0", "doc-1#1", "doc-3#0"]
    assert hits[0].score == pytest.approx(1.0)
    assert hits[0].payload == {"owner": "alice", "n": 1}

    bobs = await store.search("chunks", [1.0, 0.0, 0.0], must={"owner": "bob"})
    assert [hit.id for hit in bobs] == ["doc-3#0", "doc-2#0"]
    public = await store.search("chunks", [1.0, 0.0, 0.0], must={"owner": "bob", "public": True})
    assert [hit.id for hit in public] == ["doc-3#0"]
    by_number = await store.search("chunks", [0.0, 1.0, 0.0], must={"n": 2})
    assert [hit.id for hit in by_number] == ["doc-1#1"]
    assert await store.search("chunks", [1.0, 0.0, 0.0], must={"owner": "carol"}) == []


async def test_upsert_replaces_by_id(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    await store.upsert("chunks", POINTS)
    await store.upsert("chunks", [VectorPoint(id="doc-1#0", vector=[0.0, 0.0, 1.0])])
    assert await store.count("chunks") == 4
    hits = await store.search("chunks", [0.0, 0.0, 1.0], limit=1)
    assert hits[0].id == "doc-1#0"
    assert hits[0].payload == {}


async def test_delete(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    await store.upsert("chunks", POINTS)
    await store.delete("chunks", ["doc-1#0", "doc-2#0", "never-stored"])
    await store.delete("chunks", [])
    assert await store.count("chunks") == 2
    hits = await store.search("chunks", [1.0, 0.0, 0.0])
    assert {hit.id for hit in hits} == {"doc-1#1", "doc-3#0"}


async def test_drop_and_missing_collection(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    assert await store.drop_collection("chunks")
    assert not await store.drop_collection("chunks")
    with pytest.raises(NotFoundError):
        await store.count("chunks")
    with pytest.raises(NotFoundError):
        await store.search("chunks", [1.0, 0.0, 0.0])
    with pytest.raises(NotFoundError):
        await store.upsert("chunks", POINTS)


async def test_reserved_payload_key_and_bad_vector(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    with pytest.raises(InvalidRequestError, match="reserved"):
        await store.upsert("chunks", [VectorPoint(id="x", vector=[1.0, 0, 0], payload={"_id": 1})])
    with pytest.raises(InvalidRequestError):
        await store.upsert("chunks", [VectorPoint(id="x", vector=[1.0, 0.0])])


async def test_reopen_persists(tmp_path: Path) -> None:
    first = open_vector_store("", "", tmp_path)
    await first.ensure_collection("chunks", dimensions=3)
    await first.upsert("chunks", POINTS)
    await first.close()

    second = open_vector_store("", "", tmp_path)
    try:
        assert await second.count("chunks") == 4
        await second.ensure_collection("chunks", dimensions=3)
        hits = await second.search("chunks", [0.0, 1.0, 0.0], limit=1)
        assert hits[0].id == "doc-2#0"
    finally:
        await second.close()


async def test_second_open_while_in_use(store: VectorStore, tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="in use"):
        open_vector_store("", "", tmp_path)


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
    code = "import sys, kernel.storage.vectors; print('qdrant_client' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        cwd=Path(__file__).parents[3],
    )
    assert result.stdout.strip() == "False"


def test_qdrant_client_is_loaded_only_when_vectors_are_used(tmp_path: Path) -> None:
    """Boot and readiness never import qdrant-client (~80 MB, > 1 s); the first operation does."""
    script = f"""
import asyncio, sys
from pathlib import Path
from kernel.storage.vectors import VectorPoint, open_vector_store

async def main():
    store = open_vector_store("", "", Path({str(tmp_path)!r}))
    await store.ping()
    assert "qdrant_client" not in sys.modules
    await store.ensure_collection("c", dimensions=2)
    await store.upsert("c", [VectorPoint(id="a", vector=[1.0, 0.0])])
    assert "qdrant_client" in sys.modules
    await store.close()

asyncio.run(main())
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
