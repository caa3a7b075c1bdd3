"""What the embedded backend hands qdrant-edge-py: shard configs, points, queries and filters.

qdrant-edge-py 0.9.0 reads a boolean ``MatchValue`` as the integer 1 or 0, which never equals a
stored ``true``: a boolean payload field is therefore also stored as an integer under
``_bool__<key>``, filtered on there and removed from the payload on the way out.
"""

from __future__ import annotations

from typing import Any

from kernel.storage.vectors import (
    DENSE,
    DISTANCE_NAMES,
    RRF_K,
    SPARSE,
    Filter,
    StoredPoint,
    VectorQuery,
)

__all__ = [
    "conditions",
    "edge_config",
    "edge_filter",
    "edge_point",
    "edge_request",
    "without_bools",
]

_BOOL = "_bool__"


def edge_config(wanted: dict[str, Any]) -> Any:
    """The ``EdgeConfig`` of a collection with ``wanted`` layout, dimensions and distance."""
    from qdrant_edge import (
        Distance,
        EdgeConfig,
        EdgeSparseVectorParams,
        EdgeVectorParams,
        HnswIndexConfig,
        Modifier,
    )

    dense = EdgeVectorParams(
        size=wanted["dimensions"], distance=getattr(Distance, DISTANCE_NAMES[wanted["distance"]])
    )
    # One search thread per query (queries of several requests run side by side).
    hnsw = HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10000)
    if wanted["layout"] == "plain":
        return EdgeConfig(vectors=dense, hnsw_config=hnsw, max_search_threads=1)
    return EdgeConfig(
        vectors={DENSE: dense},
        sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
        hnsw_config=hnsw,
        max_search_threads=1,
    )


def edge_point(point: StoredPoint, hybrid: bool) -> Any:
    """The engine's ``Point``: named vectors when ``hybrid``, booleans shadowed as integers."""
    from qdrant_edge import Point
    from qdrant_edge import SparseVector as EdgeSparse

    vector: Any = point.dense
    if hybrid:
        assert point.sparse is not None
        sparse = EdgeSparse(point.sparse.indices, point.sparse.values)
        vector = {DENSE: point.dense, SPARSE: sparse}
    return Point(point.uid, vector, _with_bools(point.payload))


def edge_request(search: VectorQuery) -> Any:
    """The ``QueryRequest`` for one vector, or for both fused by RRF."""
    from qdrant_edge import Fusion, Prefetch, QueryRequest

    flt = edge_filter(search.must)
    queries = _queries(search)
    if not search.fused:
        return QueryRequest(
            limit=search.limit,
            query=queries[0],
            filter=flt,
            score_threshold=search.score_threshold,
            with_payload=True,
        )
    prefetches = [Prefetch(limit=search.prefetch_limit, query=q, filter=flt) for q in queries]
    return QueryRequest(
        limit=search.limit,
        prefetches=prefetches,
        query=Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # the stub's Union misses it
        score_threshold=search.score_threshold,
        with_payload=True,
    )


def edge_filter(must: Filter | None) -> Any:
    """The engine's filter requiring every ``key == value`` of ``must``; None for none."""
    from qdrant_edge import FieldCondition, Filter, MatchValue

    if not must:
        return None
    return Filter(
        must=[FieldCondition(key=key, match=MatchValue(value)) for key, value in conditions(must)]
    )


def conditions(must: Filter) -> list[tuple[str, str | int]]:
    """``must`` as the engine matches it: booleans as integers on their shadow keys."""
    return [
        (f"{_BOOL}{key}", int(value)) if isinstance(value, bool) else (key, value)
        for key, value in must.items()
    ]


def without_bools(payload: dict[str, Any] | None) -> dict[str, Any]:
    """A stored payload without the integer shadows of its booleans."""
    return {k: v for k, v in (payload or {}).items() if not k.startswith(_BOOL)}


def _queries(search: VectorQuery) -> list[Any]:
    from qdrant_edge import Query
    from qdrant_edge import SparseVector as EdgeSparse

    queries = []
    if search.dense is not None:
        queries.append(Query.Nearest(search.dense, using=DENSE if search.named else None))
    if search.sparse is not None:
        sparse = EdgeSparse(search.sparse.indices, search.sparse.values)
        queries.append(Query.Nearest(sparse, using=SPARSE))
    return queries


def _with_bools(payload: dict[str, Any]) -> dict[str, Any]:
    shadows = {f"{_BOOL}{k}": int(v) for k, v in payload.items() if isinstance(v, bool)}
    return {**payload, **shadows} if shadows else payload
