"""The qdrant-client backend of the vectors seam: a Qdrant server, or qdrant-client's local mode.

The same code serves ``AsyncQdrantClient(url=...)`` and the local mode (``path=`` or
``location=":memory:"``), so the server path is exercised by the contract tests through the
local mode (no Qdrant server can be installed where they run). Fusion and the IDF modifier are
Qdrant's own (Query API, ``Modifier.IDF``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kernel.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    StoreUnavailableError,
)
from kernel.storage.vectors import (
    DENSE,
    DISTANCE_NAMES,
    RRF_K,
    SPARSE,
    Distance,
    Filter,
    Layout,
    RawHit,
    StoredPoint,
    VectorQuery,
)

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient

    from kernel.storage.vector_engines import Engine

__all__ = ["ClientBackend"]


class ClientBackend:
    """:class:`~kernel.storage.vectors.VectorBackend` on an ``AsyncQdrantClient``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._client: AsyncQdrantClient | None = None

    @property
    def _qdrant(self) -> AsyncQdrantClient:
        if self._client is None:
            self._client = self._engine.connect()
        return self._client

    async def ensure(self, name: str, layout: Layout, dimensions: int, distance: Distance) -> None:
        from qdrant_client.http import models

        wanted = models.VectorParams(
            size=dimensions, distance=models.Distance(DISTANCE_NAMES[distance])
        )
        vectors: Any = wanted if layout == "plain" else {DENSE: wanted}
        sparse = None
        if layout == "hybrid":
            sparse = {SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)}
        with _guard(name):
            if not await self._qdrant.collection_exists(name):
                try:
                    await self._qdrant.create_collection(
                        name, vectors_config=vectors, sparse_vectors_config=sparse
                    )
                    return
                except Exception:
                    # Another process may have created it first; only then is this fine.
                    if not await self._qdrant.collection_exists(name):
                        raise
            info = await self._qdrant.get_collection(name)
        existing = info.config.params.vectors
        if layout == "hybrid":
            existing = existing.get(DENSE) if isinstance(existing, dict) else None
            same = isinstance(existing, models.VectorParams)
        else:
            same = isinstance(existing, models.VectorParams)
        if not same or existing.size != dimensions or existing.distance != wanted.distance:  # type: ignore[union-attr]
            raise ConflictError(
                f"vector collection '{name}' exists with another layout, not {layout} "
                f"{dimensions} dimensions ({distance})"
            )

    async def upsert(self, name: str, points: list[StoredPoint]) -> None:
        from qdrant_client.http import models

        structs = []
        for point in points:
            vector: Any = point.dense
            if point.sparse is not None:
                sparse = models.SparseVector(
                    indices=point.sparse.indices, values=point.sparse.values
                )
                vector = {DENSE: point.dense, SPARSE: sparse}
            structs.append(models.PointStruct(id=point.uid, vector=vector, payload=point.payload))
        with _guard(name):
            await self._qdrant.upsert(name, points=structs, wait=True)

    async def query(self, name: str, search: VectorQuery) -> list[RawHit]:
        with _guard(name):
            response = await self._qdrant.query_points(
                name,
                **_request(search),
                limit=search.limit,
                score_threshold=search.score_threshold,
                with_payload=True,
            )
        return [
            RawHit(uid=str(p.id), score=p.score, payload=dict(p.payload or {}))
            for p in response.points
        ]

    async def delete(self, name: str, uids: list[str]) -> None:
        from qdrant_client.http import models

        selector = models.PointIdsList(points=list(uids))
        with _guard(name):
            await self._qdrant.delete(name, points_selector=selector, wait=True)

    async def delete_where(self, name: str, must: Filter) -> None:
        from qdrant_client.http import models

        selector = models.FilterSelector(filter=_filter(must))
        with _guard(name):
            await self._qdrant.delete(name, points_selector=selector, wait=True)

    async def count(self, name: str) -> int:
        with _guard(name):
            result = await self._qdrant.count(name, exact=True)
        return result.count

    async def drop(self, name: str) -> bool:
        with _guard(name):
            return await self._qdrant.delete_collection(name)

    async def probe(self) -> None:
        await self._engine.probe()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        self._engine.release()


def _request(search: VectorQuery) -> dict[str, Any]:
    """``query_points`` arguments for one vector, or for both fused by RRF."""
    from qdrant_client.http import models

    query_filter = _filter(search.must)
    queries: list[tuple[str | None, Any]] = []
    if search.dense is not None:
        queries.append((DENSE if search.named else None, search.dense))
    if search.sparse is not None:
        sparse = models.SparseVector(indices=search.sparse.indices, values=search.sparse.values)
        queries.append((SPARSE, sparse))
    if not search.fused:
        using, query = queries[0]
        return {"query": query, "using": using, "query_filter": query_filter}
    prefetch = [
        models.Prefetch(query=q, using=u, filter=query_filter, limit=search.prefetch_limit)
        for u, q in queries
    ]
    return {"prefetch": prefetch, "query": models.RrfQuery(rrf=models.Rrf(k=RRF_K))}


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


@contextmanager
def _guard(collection: str) -> Iterator[None]:
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
