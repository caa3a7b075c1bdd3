"""The vectors seam: one small typed interface over Qdrant, server or embedded.

``open_vector_store`` picks the engine: with a URL, a Qdrant server through
``AsyncQdrantClient(url=...)``; without one, Qdrant in process via qdrant-client local mode
(``AsyncQdrantClient(path=data/qdrant)``), which speaks the same client API. DESIGN.md (section 5)
names qdrant-edge-py, Qdrant's Rust engine in process, as the faster embedded engine to adopt
behind this seam when measurements call for it; callers only see :class:`VectorStore`.

qdrant-client takes over a second and ~80 MB to import, so the client is created on the first
vector operation, not at boot: ``ping`` asks a server's ``/readyz`` over plain HTTP and checks
an embedded store's directory and lock (taken at open, so a second process fails at boot;
with ``lazy_lock``, as ``--workers N`` opens it, at the first vector operation instead).
Point ids are arbitrary strings, mapped to UUIDv5 for Qdrant; the original id rides in the
payload under ``_id`` and is restored on the way out. Backend failures become
:class:`~kernel.errors.StoreUnavailableError` (store ``"vectors"``); a missing collection is
:class:`~kernel.errors.NotFoundError`; input Qdrant rejects is ``InvalidRequestError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from kernel.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    StoreUnavailableError,
)
from kernel.storage.vector_engines import EmbeddedEngine, ServerEngine
from kernel.storage.vector_engines import Engine as _Engine

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient
    from qdrant_client.http.models import ScoredPoint

__all__ = [
    "DENSE",
    "SPARSE",
    "Distance",
    "HybridPoint",
    "SparseVector",
    "VectorHit",
    "VectorPoint",
    "VectorStore",
    "open_vector_store",
]

Distance = Literal["cosine", "dot", "euclid", "manhattan"]
_ID_KEY = "_id"
DENSE = "dense"
"""Name of the dense vector in a hybrid collection."""
SPARSE = "sparse"
"""Name of the sparse (term weight) vector in a hybrid collection, scored with Qdrant's IDF."""
Filter = dict[str, str | int | bool]
# Fixed forever: stored point ids are derived from it.
_ID_NAMESPACE = uuid.UUID("5d0c2f4e-7a43-4b8e-9d2a-0c6f3e9b1a57")
_DISTANCES: dict[str, str] = {
    "cosine": "Cosine",
    "dot": "Dot",
    "euclid": "Euclid",
    "manhattan": "Manhattan",
}


class VectorPoint(msgspec.Struct, frozen=True):
    """A vector to store; ``payload`` must not use the reserved key ``_id``."""

    id: str
    vector: list[float]
    payload: dict[str, Any] = {}


class VectorHit(msgspec.Struct, frozen=True):
    """A search result: the caller's id, the similarity score and the payload."""

    id: str
    score: float
    payload: dict[str, Any]


class SparseVector(msgspec.Struct, frozen=True):
    """Term weights by token id (``indices`` unique); Qdrant multiplies them by the IDF."""

    indices: list[int]
    values: list[float]


class HybridPoint(msgspec.Struct, frozen=True):
    """A point of a hybrid collection: a dense vector and a sparse one under the same id."""

    id: str
    dense: list[float]
    sparse: SparseVector
    payload: dict[str, Any] = {}


class VectorStore:
    """Collections of vectors with payload filters; one instance per process, closed at exit."""

    def __init__(self, engine: _Engine, *, embedded: bool) -> None:
        self._engine = engine
        self._client: AsyncQdrantClient | None = None
        self._embedded = embedded

    @property
    def _qdrant(self) -> AsyncQdrantClient:
        if self._client is None:
            self._client = self._engine.connect()
        return self._client

    @property
    def embedded(self) -> bool:
        """True when Qdrant runs in this process (local mode), False for a server."""
        return self._embedded

    async def ensure_collection(
        self, name: str, *, dimensions: int, distance: Distance = "cosine"
    ) -> None:
        """Create ``name`` unless it exists; ConflictError if it exists with other parameters."""
        from qdrant_client.http import models

        if distance not in _DISTANCES:
            raise InvalidRequestError(f"unknown vector distance {distance!r}")
        wanted = models.Distance(_DISTANCES[distance])
        params = models.VectorParams(size=dimensions, distance=wanted)
        with self._guard(name):
            if not await self._qdrant.collection_exists(name):
                try:
                    await self._qdrant.create_collection(name, vectors_config=params)
                    return
                except Exception:
                    # Another process may have created it first; only then is this fine.
                    if not await self._qdrant.collection_exists(name):
                        raise
            info = await self._qdrant.get_collection(name)
        existing = info.config.params.vectors
        if not isinstance(existing, models.VectorParams):
            raise ConflictError(f"vector collection '{name}' uses named vectors")
        if existing.size != dimensions or existing.distance != wanted:
            raise ConflictError(
                f"vector collection '{name}' exists with {existing.size} dimensions "
                f"({existing.distance.value}), not {dimensions} ({wanted.value})"
            )

    async def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        """Insert or replace ``points`` (matched by id) in collection ``name``."""
        from qdrant_client.http import models

        if not points:
            return
        structs = []
        for point in points:
            if _ID_KEY in point.payload:
                raise InvalidRequestError(f"payload key '{_ID_KEY}' is reserved")
            payload = {**point.payload, _ID_KEY: point.id}
            structs.append(
                models.PointStruct(id=_point_id(point.id), vector=point.vector, payload=payload)
            )
        with self._guard(name):
            await self._qdrant.upsert(name, points=structs, wait=True)

    async def search(
        self,
        name: str,
        vector: list[float],
        *,
        limit: int = 10,
        must: Filter | None = None,
    ) -> list[VectorHit]:
        """The ``limit`` nearest points, best first, whose payload equals every item of ``must``."""
        query_filter = _filter(must)
        with self._guard(name):
            response = await self._qdrant.query_points(
                name, query=vector, query_filter=query_filter, limit=limit, with_payload=True
            )
        return [_hit(point) for point in response.points]

    async def delete(self, name: str, ids: Sequence[str]) -> None:
        """Remove the points with these ids; unknown ids are ignored."""
        from qdrant_client.http import models

        if not ids:
            return
        selector = models.PointIdsList(points=[_point_id(point_id) for point_id in ids])
        with self._guard(name):
            await self._qdrant.delete(name, points_selector=selector, wait=True)

    async def count(self, name: str) -> int:
        """Exact number of points in collection ``name``."""
        with self._guard(name):
            result = await self._qdrant.count(name, exact=True)
        return result.count

    async def drop_collection(self, name: str) -> bool:
        """Delete collection ``name`` and its points; True when it existed."""
        with self._guard(name):
            return await self._qdrant.delete_collection(name)

    async def ensure_hybrid_collection(
        self, name: str, *, dimensions: int, distance: Distance = "cosine"
    ) -> None:
        """Create ``name`` with a named dense vector and an IDF-weighted sparse one unless it
        exists; ConflictError if it exists with another layout."""
        from qdrant_client.http import models

        if distance not in _DISTANCES:
            raise InvalidRequestError(f"unknown vector distance {distance!r}")
        wanted = models.Distance(_DISTANCES[distance])
        dense = {DENSE: models.VectorParams(size=dimensions, distance=wanted)}
        sparse = {SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)}
        with self._guard(name):
            if not await self._qdrant.collection_exists(name):
                try:
                    await self._qdrant.create_collection(
                        name, vectors_config=dense, sparse_vectors_config=sparse
                    )
                    return
                except Exception:
                    if not await self._qdrant.collection_exists(name):
                        raise
            info = await self._qdrant.get_collection(name)
        existing = info.config.params.vectors
        params = existing.get(DENSE) if isinstance(existing, dict) else None
        if params is None or params.size != dimensions or params.distance != wanted:
            raise ConflictError(f"vector collection '{name}' exists with another layout")

    async def upsert_hybrid(self, name: str, points: Sequence[HybridPoint]) -> None:
        """Insert or replace hybrid ``points`` (matched by id) in collection ``name``."""
        from qdrant_client.http import models

        structs = []
        for point in points:
            if _ID_KEY in point.payload:
                raise InvalidRequestError(f"payload key '{_ID_KEY}' is reserved")
            sparse = models.SparseVector(indices=point.sparse.indices, values=point.sparse.values)
            structs.append(
                models.PointStruct(
                    id=_point_id(point.id),
                    vector={DENSE: point.dense, SPARSE: sparse},
                    payload={**point.payload, _ID_KEY: point.id},
                )
            )
        if structs:
            with self._guard(name):
                await self._qdrant.upsert(name, points=structs, wait=True)

    async def hybrid_search(
        self,
        name: str,
        *,
        dense: list[float] | None = None,
        sparse: SparseVector | None = None,
        limit: int = 10,
        must: Filter | None = None,
        score_threshold: float | None = None,
    ) -> list[VectorHit]:
        """Best ``limit`` points of a hybrid collection: by the dense vector, the sparse one, or
        both fused with reciprocal rank fusion in Qdrant (each side fetches ``4 * limit``)."""
        from qdrant_client.http import models

        query_filter = _filter(must)
        queries: list[tuple[str, Any]] = []
        if dense is not None:
            queries.append((DENSE, dense))
        if sparse is not None:
            queries.append(
                (SPARSE, models.SparseVector(indices=sparse.indices, values=sparse.values))
            )
        if not queries:
            raise InvalidRequestError("a vector search needs a dense or a sparse query")
        with self._guard(name):
            if len(queries) == 1:
                using, query = queries[0]
                response = await self._qdrant.query_points(
                    name,
                    query=query,
                    using=using,
                    query_filter=query_filter,
                    limit=limit,
                    score_threshold=score_threshold,
                    with_payload=True,
                )
            else:
                prefetch = [
                    models.Prefetch(query=q, using=u, filter=query_filter, limit=4 * limit)
                    for u, q in queries
                ]
                response = await self._qdrant.query_points(
                    name,
                    prefetch=prefetch,
                    query=models.FusionQuery(fusion=models.Fusion.RRF),
                    limit=limit,
                    score_threshold=score_threshold,
                    with_payload=True,
                )
        return [_hit(point) for point in response.points]

    async def delete_where(self, name: str, must: Filter) -> None:
        """Remove every point whose payload equals every item of ``must`` (never everything)."""
        from qdrant_client.http import models

        query_filter = _filter(must)
        if query_filter is None:
            raise InvalidRequestError("delete_where needs at least one condition")
        with self._guard(name):
            await self._qdrant.delete(
                name, points_selector=models.FilterSelector(filter=query_filter), wait=True
            )

    async def ping(self) -> None:
        """Raise StoreUnavailableError("vectors") unless the engine answers."""
        await self._engine.probe()

    async def close(self) -> None:
        """Release connections (server) or the data directory lock (embedded)."""
        if self._client is not None:
            await self._client.close()
            self._client = None
        self._engine.release()

    @contextmanager
    def _guard(self, collection: str) -> Iterator[None]:
        """Translate qdrant-client failures into the error tree."""
        from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

        try:
            yield
        except UnexpectedResponse as exc:
            raise _from_status(exc.status_code, collection) from exc
        except (ApiException, OSError) as exc:
            raise StoreUnavailableError("vectors", reason=_reason(exc)) from exc
        except ValueError as exc:
            # Local mode reports missing collections and rejected input as ValueError.
            if f"{collection} not found" in str(exc):
                raise _not_found(collection) from exc
            raise InvalidRequestError(f"vector store rejected the request: {exc}"[:300]) from exc


def open_vector_store(
    url: str, api_key: str, data_dir: Path, *, timeout: int = 10, lazy_lock: bool = False
) -> VectorStore:
    """A Qdrant server store when ``url`` is set, else an embedded one under ``data_dir/qdrant``.

    Raises ConfigError for an unusable URL, StoreUnavailableError if the embedded data is locked
    (with ``lazy_lock``, the embedded lock is taken, and may fail, at the first use instead).
    """
    if url:
        return VectorStore(ServerEngine(url, api_key, timeout=timeout), embedded=False)
    return VectorStore(EmbeddedEngine(data_dir / "qdrant", lazy=lazy_lock), embedded=True)


def _filter(must: Filter | None) -> Any:
    """A Qdrant filter requiring every ``key == value`` of ``must``; None for no condition."""
    from qdrant_client.http import models

    if not must:
        return None
    return models.Filter(
        must=[
            models.FieldCondition(key=key, match=models.MatchValue(value=value))
            for key, value in must.items()
        ]
    )


def _point_id(point_id: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, point_id))


def _hit(point: ScoredPoint) -> VectorHit:
    payload = dict(point.payload or {})
    original = payload.pop(_ID_KEY, point.id)
    return VectorHit(id=str(original), score=point.score, payload=payload)


def _not_found(collection: str) -> NotFoundError:
    return NotFoundError(f"vector collection '{collection}' not found")


def _from_status(status: int | None, collection: str) -> Exception:
    if status == 404:
        return _not_found(collection)
    if status in (400, 422):
        return InvalidRequestError(f"vector store rejected the request (HTTP {status})")
    return StoreUnavailableError("vectors", reason=f"HTTP {status}")


def _reason(exc: Exception) -> str:
    source = getattr(exc, "source", None) or exc.__cause__ or exc
    return type(source).__name__
