"""The one contract every vectors backend passes: plain and hybrid collections, filters, RRF.

Backends: ``edge`` (qdrant-edge-py, the default embedded engine), ``local`` (qdrant-client's
local mode in a directory, ``qdrant.embedded_engine = "local"``) and ``server-client``: the
server backend's own code (:class:`ClientBackend`) on ``AsyncQdrantClient(location=":memory:")``,
since no Qdrant server can be installed where the tests run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from kernel.errors import ConflictError, InvalidRequestError, NotFoundError
from kernel.storage.vector_client import ClientBackend
from kernel.storage.vectors import (
    HybridPoint,
    SparseVector,
    VectorPoint,
    VectorStore,
    open_vector_store,
)


class MemoryEngine:
    """qdrant-client's in-memory client behind the server backend's code."""

    def connect(self) -> AsyncQdrantClient:
        return AsyncQdrantClient(location=":memory:")

    async def probe(self) -> None:
        return None

    def release(self) -> None:
        return None


@pytest.fixture(params=["edge", "local", "server-client"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    if request.param == "server-client":
        vectors = VectorStore(ClientBackend(MemoryEngine()), embedded=False)
    else:
        vectors = open_vector_store("", "", tmp_path, embedded_engine=request.param)
    yield vectors
    await vectors.close()


PLAIN = [
    VectorPoint(id="doc-1#0", vector=[1.0, 0.0, 0.0], payload={"owner": "alice", "n": 1}),
    VectorPoint(id="doc-1#1", vector=[0.9, 0.1, 0.0], payload={"owner": "alice", "n": 2}),
    VectorPoint(id="doc-2#0", vector=[0.0, 1.0, 0.0], payload={"owner": "bob", "n": 3}),
    VectorPoint(id="doc-3#0", vector=[0.8, 0.0, 0.2], payload={"owner": "bob", "public": True}),
]


def _point(pid: str, dense: list[float], terms: dict[int, float], owner: str) -> HybridPoint:
    return HybridPoint(
        id=pid,
        dense=dense,
        sparse=SparseVector(indices=sorted(terms), values=[terms[i] for i in sorted(terms)]),
        payload={"owner_id": owner, "document_id": pid.split(":")[0]},
    )


HYBRID = [
    _point("a:0", [1.0, 0.0, 0.0], {1: 1.0, 2: 1.0}, "alice"),
    _point("a:1", [0.9, 0.1, 0.0], {3: 2.0}, "alice"),
    _point("b:0", [0.0, 1.0, 0.0], {4: 1.0, 1: 1.0}, "bob"),
    _point("c:0", [0.0, 0.0, 1.0], {5: 1.0}, "alice"),
]


async def _hybrid(store: VectorStore) -> VectorStore:
    await store.ensure_hybrid_collection("h", dimensions=3)
    await store.upsert_hybrid("h", HYBRID)
    return store


async def test_plain_upsert_search_filter(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    await store.ensure_collection("chunks", dimensions=3)  # idempotent
    assert await store.count("chunks") == 0
    await store.upsert("chunks", PLAIN)
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


async def test_plain_replace_and_delete(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    await store.upsert("chunks", PLAIN)
    await store.upsert("chunks", [VectorPoint(id="doc-1#0", vector=[0.0, 0.0, 1.0])])
    assert await store.count("chunks") == 4
    hits = await store.search("chunks", [0.0, 0.0, 1.0], limit=1)
    assert (hits[0].id, hits[0].payload) == ("doc-1#0", {})
    await store.delete("chunks", ["doc-1#0", "doc-2#0", "never-stored"])
    await store.delete("chunks", [])
    assert await store.count("chunks") == 2
    assert {hit.id for hit in await store.search("chunks", [1.0, 0.0, 0.0])} == {
        "doc-1#1",
        "doc-3#0",
    }


async def test_conflicts_and_rejected_input(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    with pytest.raises(ConflictError):
        await store.ensure_collection("chunks", dimensions=4)
    with pytest.raises(ConflictError):
        await store.ensure_collection("chunks", dimensions=3, distance="dot")
    with pytest.raises(ConflictError):
        await store.ensure_hybrid_collection("chunks", dimensions=3)
    with pytest.raises(InvalidRequestError, match="reserved"):
        await store.upsert("chunks", [VectorPoint(id="x", vector=[1.0, 0, 0], payload={"_id": 1})])
    with pytest.raises(InvalidRequestError):
        await store.upsert("chunks", [VectorPoint(id="x", vector=[1.0, 0.0])])
    with pytest.raises(InvalidRequestError):
        await store.search("chunks", [1.0, 0.0])
    with pytest.raises(InvalidRequestError):
        await store.ensure_collection("../escape", dimensions=3)
    with pytest.raises(InvalidRequestError):
        await store.ensure_collection("c", dimensions=3, distance="hamming")  # type: ignore[arg-type]


async def test_drop_and_missing_collection(store: VectorStore) -> None:
    await store.ensure_collection("chunks", dimensions=3)
    await store.upsert("chunks", PLAIN)
    assert await store.drop_collection("chunks")
    assert not await store.drop_collection("chunks")
    with pytest.raises(NotFoundError):
        await store.count("chunks")
    with pytest.raises(NotFoundError):
        await store.search("chunks", [1.0, 0.0, 0.0])
    with pytest.raises(NotFoundError):
        await store.upsert("chunks", PLAIN)
    with pytest.raises(NotFoundError):
        await store.hybrid_search("chunks", dense=[1.0, 0.0, 0.0])
    with pytest.raises(NotFoundError):
        await store.delete_where("chunks", {"owner": "bob"})
    await store.ensure_collection("chunks", dimensions=2)  # a new one under the old name
    assert await store.count("chunks") == 0


async def test_hybrid_dense_sparse_and_fused(store: VectorStore) -> None:
    await _hybrid(store)
    dense = await store.hybrid_search("h", dense=[0.0, 0.0, 1.0], limit=1)
    assert [h.id for h in dense] == ["c:0"]
    sparse = await store.hybrid_search("h", sparse=SparseVector(indices=[3], values=[1.0]), limit=2)
    assert [h.id for h in sparse] == ["a:1"]  # only a:1 holds term 3
    fused = await store.hybrid_search(
        "h", dense=[0.0, 0.0, 1.0], sparse=SparseVector(indices=[3], values=[1.0]), limit=4
    )
    assert {h.id for h in fused[:2]} == {"c:0", "a:1"}  # each first in one ranking
    assert fused[0].payload.keys() == {"owner_id", "document_id"}


async def test_rrf_scores_are_qdrants(store: VectorStore) -> None:
    """RRF with k = 2: rank r (from 1) of a list adds 1 / (r + 1), on every backend."""
    await _hybrid(store)
    fused = await store.hybrid_search(
        "h", dense=[1.0, 0.0, 0.0], sparse=SparseVector(indices=[2], values=[1.0]), limit=4
    )
    # dense order a:0, a:1, then b:0 and c:0 (both at 0); sparse (term 2): a:0 alone.
    assert fused[0].id == "a:0"
    assert fused[0].score == pytest.approx(1 / 2 + 1 / 2)
    assert fused[1].id == "a:1"
    assert fused[1].score == pytest.approx(1 / 3)


async def test_rare_terms_weigh_more(store: VectorStore) -> None:
    """Term 1 is in two points, term 5 in one: with IDF the rarer term's match scores higher."""
    await _hybrid(store)
    hits = await store.hybrid_search(
        "h", sparse=SparseVector(indices=[1, 5], values=[1.0, 1.0]), limit=4
    )
    assert hits[0].id == "c:0"
    assert hits[0].score > hits[1].score


async def test_hybrid_filters_and_threshold(store: VectorStore) -> None:
    await _hybrid(store)
    hits = await store.hybrid_search(
        "h",
        dense=[0.0, 1.0, 0.0],
        sparse=SparseVector(indices=[1], values=[1.0]),
        must={"owner_id": "alice"},
        limit=10,
    )
    assert {h.id for h in hits} == {"a:0", "a:1", "c:0"}
    one_doc = await store.hybrid_search(
        "h", dense=[0.0, 1.0, 0.0], must={"owner_id": "alice", "document_id": "c"}
    )
    assert [h.id for h in one_doc] == ["c:0"]
    close = await store.hybrid_search("h", dense=[1.0, 0.0, 0.0], score_threshold=0.95, limit=10)
    assert {h.id for h in close} == {"a:0", "a:1"}
    fused = await store.hybrid_search(
        "h",
        dense=[1.0, 0.0, 0.0],
        sparse=SparseVector(indices=[2], values=[1.0]),
        score_threshold=0.4,
        limit=10,
    )
    assert [h.id for h in fused] == ["a:0"]  # the threshold applies to the fused score


async def test_hybrid_delete_where_and_replace(store: VectorStore) -> None:
    await _hybrid(store)
    await store.delete_where("h", {"document_id": "a"})
    assert await store.count("h") == 2
    await store.upsert_hybrid("h", [_point("b:0", [1.0, 0.0, 0.0], {9: 1.0}, "bob")])
    assert await store.count("h") == 2
    hits = await store.hybrid_search("h", sparse=SparseVector(indices=[9], values=[1.0]))
    assert [h.id for h in hits] == ["b:0"]
    with pytest.raises(InvalidRequestError):
        await store.delete_where("h", {})


async def test_hybrid_layout_conflicts_and_bad_queries(store: VectorStore) -> None:
    await _hybrid(store)
    await store.ensure_hybrid_collection("h", dimensions=3)  # idempotent
    with pytest.raises(ConflictError):
        await store.ensure_hybrid_collection("h", dimensions=4)
    with pytest.raises(ConflictError):
        await store.ensure_collection("h", dimensions=3)
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
    with pytest.raises(InvalidRequestError):
        await store.hybrid_search("h", dense=[1.0, 0.0])
    # The single-vector API keeps working next to hybrid collections.
    await store.upsert("plain", [VectorPoint(id="p", vector=[1.0, 0.0, 0.0])])
    assert [h.id for h in await store.search("plain", [1.0, 0.0, 0.0])] == ["p"]


async def test_many_points_stay_searchable(store: VectorStore) -> None:
    """Enough points for the engine to index in the background; searches see every write."""
    await store.ensure_hybrid_collection("big", dimensions=8)
    points = [
        HybridPoint(
            id=f"d{i // 10}:{i}",
            dense=[float((i >> b) & 1) + 0.01 for b in range(8)],
            sparse=SparseVector([i % 97, 100 + i % 13], [1.0, 0.5]),
            payload={"document_id": f"d{i // 10}"},
        )
        for i in range(600)
    ]
    for start in range(0, len(points), 128):
        await store.upsert_hybrid("big", points[start : start + 128])
    assert await store.count("big") == 600
    hits = await store.hybrid_search(
        "big", sparse=SparseVector([42], [1.0]), must={"document_id": "d4"}, limit=3
    )
    assert [h.id for h in hits] == ["d4:42"]
    await store.delete_where("big", {"document_id": "d4"})
    assert await store.count("big") == 590
