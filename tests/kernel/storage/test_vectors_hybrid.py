"""Hybrid collections: named dense + IDF-weighted sparse vectors, RRF fusion in Qdrant, filters.

Runs on the embedded engine and on qdrant-client's in-memory client, which is the same client
code the server engine uses (no Qdrant server can be installed where the tests run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from kernel.errors import ConflictError, InvalidRequestError
from kernel.storage.vectors import (
    HybridPoint,
    SparseVector,
    VectorPoint,
    VectorStore,
    open_vector_store,
)


class MemoryEngine:
    """qdrant-client's in-memory client behind the seam (the server engine's code path)."""

    def connect(self) -> AsyncQdrantClient:
        return AsyncQdrantClient(location=":memory:")

    async def probe(self) -> None:
        return None

    def release(self) -> None:
        return None


def _point(pid: str, dense: list[float], terms: dict[int, float], owner: str) -> HybridPoint:
    return HybridPoint(
        id=pid,
        dense=dense,
        sparse=SparseVector(indices=sorted(terms), values=[terms[i] for i in sorted(terms)]),
        payload={"owner_id": owner, "document_id": pid.split(":")[0]},
    )


POINTS = [
    _point("a:0", [1.0, 0.0, 0.0], {1: 1.0, 2: 1.0}, "alice"),
    _point("a:1", [0.9, 0.1, 0.0], {3: 2.0}, "alice"),
    _point("b:0", [0.0, 1.0, 0.0], {4: 1.0, 1: 1.0}, "bob"),
    _point("c:0", [0.0, 0.0, 1.0], {5: 1.0}, "alice"),
]


@pytest.fixture(params=["embedded", "client"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    if request.param == "embedded":
        vectors = open_vector_store("", "", tmp_path)
    else:
        vectors = VectorStore(MemoryEngine(), embedded=False)
    await vectors.ensure_hybrid_collection("h", dimensions=3)
    await vectors.upsert_hybrid("h", POINTS)
    yield vectors
    await vectors.close()


async def test_dense_sparse_and_fused(store: VectorStore) -> None:
    dense = await store.hybrid_search("h", dense=[0.0, 0.0, 1.0], limit=1)
    assert [h.id for h in dense] == ["c:0"]
    sparse = await store.hybrid_search("h", sparse=SparseVector(indices=[3], values=[1.0]), limit=2)
    assert [h.id for h in sparse] == ["a:1"]  # only a:1 holds term 3
    fused = await store.hybrid_search(
        "h", dense=[0.0, 0.0, 1.0], sparse=SparseVector(indices=[3], values=[1.0]), limit=4
    )
    assert {h.id for h in fused[:2]} == {"c:0", "a:1"}  # each first in one ranking
    assert fused[0].payload.keys() == {"owner_id", "document_id"}


async def test_rare_terms_weigh_more(store: VectorStore) -> None:
    """Term 1 is in two points, term 5 in one: with IDF the rarer term's match scores higher."""
    hits = await store.hybrid_search(
        "h", sparse=SparseVector(indices=[1, 5], values=[1.0, 1.0]), limit=4
    )
    assert hits[0].id == "c:0"


async def test_filters_and_threshold(store: VectorStore) -> None:
    hits = await store.hybrid_search(
        "h",
        dense=[0.0, 1.0, 0.0],
        sparse=SparseVector(indices=[1], values=[1.0]),
        must={"owner_id": "alice"},
        limit=10,
    )
    assert {h.id for h in hits} <= {"a:0", "a:1", "c:0"}
    assert "b:0" not in {h.id for h in hits}
    close = await store.hybrid_search("h", dense=[1.0, 0.0, 0.0], score_threshold=0.95, limit=10)
    assert {h.id for h in close} == {"a:0", "a:1"}


async def test_delete_where_and_replace(store: VectorStore) -> None:
    await store.delete_where("h", {"document_id": "a"})
    assert await store.count("h") == 2
    await store.upsert_hybrid("h", [_point("b:0", [1.0, 0.0, 0.0], {9: 1.0}, "bob")])
    assert await store.count("h") == 2
    hits = await store.hybrid_search("h", sparse=SparseVector(indices=[9], values=[1.0]))
    assert [h.id for h in hits] == ["b:0"]
    with pytest.raises(InvalidRequestError):
        await store.delete_where("h", {})


async def test_layout_conflicts_and_bad_queries(store: VectorStore) -> None:
    await store.ensure_hybrid_collection("h", dimensions=3)  # idempotent
    with pytest.raises(ConflictError):
        await store.ensure_hybrid_collection("h", dimensions=4)
    await store.ensure_collection("plain", dimensions=3)
    with pytest.raises(ConflictError):
        await store.ensure_hybrid_collection("plain", dimensions=3)
    with pytest.raises(InvalidRequestError):
        await store.hybrid_search("h")
    with pytest.raises(InvalidRequestError, match="reserved"):
        await store.upsert_hybrid(
            "h",
            [
                HybridPoint(
                    id="x", dense=[1, 0, 0], sparse=SparseVector([1], [1.0]), payload={"_id": 1}
                )
            ],
        )
    # The single-vector API keeps working next to hybrid collections.
    await store.upsert("plain", [VectorPoint(id="p", vector=[1.0, 0.0, 0.0])])
    assert [h.id for h in await store.search("plain", [1.0, 0.0, 0.0])] == ["p"]
