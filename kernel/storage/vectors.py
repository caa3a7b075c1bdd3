"""The vectors seam: one small typed interface over Qdrant, server or embedded.

``open_vector_store`` picks the backend. With a URL: a Qdrant server through qdrant-client's
``AsyncQdrantClient(url=...)`` (:mod:`kernel.storage.vector_client`). Without one, Qdrant in
this process: by default qdrant-edge-py, Qdrant's Rust engine as a Python extension
(:mod:`kernel.storage.vector_edge`, one shard per collection under ``data/qdrant-edge``), or,
with ``qdrant.embedded_engine = "local"``, qdrant-client's local mode under ``data/qdrant``
(the server's client code, pure Python; bench/rag.py measures both). Callers only see
:class:`VectorStore`, and one contract test suite runs on every backend.

Neither engine is imported at boot (qdrant-client takes ~1 s and ~80 MB): the first vector
operation does. ``ping`` asks a server's ``/readyz`` over plain HTTP and checks an embedded
store's directory and lock (taken at open, so a second process fails at boot; with
``lazy_lock``, as ``--workers N`` opens it, at the first vector operation instead).
Point ids are arbitrary strings, mapped to UUIDv5 for Qdrant; the original id rides in the
payload under ``_id`` and is restored on the way out. Backend failures become
:class:`~kernel.errors.StoreUnavailableError` (store ``"vectors"``); a missing collection is
:class:`~kernel.errors.NotFoundError`; input Qdrant rejects is ``InvalidRequestError``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import msgspec

from kernel.errors import InvalidRequestError

__all__ = [
    "DENSE",
    "DISTANCE_NAMES",
    "RRF_K",
    "SPARSE",
    "Distance",
    "EmbeddedEngineName",
    "HybridPoint",
    "Layout",
    "SparseVector",
    "VectorBackend",
    "VectorHit",
    "VectorPoint",
    "VectorQuery",
    "VectorStore",
    "open_vector_store",
]

Distance = Literal["cosine", "dot", "euclid", "manhattan"]
DISTANCE_NAMES = {"cosine": "Cosine", "dot": "Dot", "euclid": "Euclid", "manhattan": "Manhattan"}
"""Qdrant's name of each distance (both engines spell their enum members so)."""
DISTANCES: frozenset[str] = frozenset(DISTANCE_NAMES)
EmbeddedEngineName = Literal["edge", "local"]
Layout = Literal["plain", "hybrid"]
ID_KEY = "_id"
DENSE = "dense"
"""Name of the dense vector in a hybrid collection."""
SPARSE = "sparse"
"""Name of the sparse (term weight) vector in a hybrid collection, scored with Qdrant's IDF."""
RRF_K = 2
"""Reciprocal rank fusion constant: a point at rank r (from 1) of a list scores 1 / (r + k - 1)
there, as Qdrant's server and qdrant-client's local mode both define it."""
PREFETCH_FACTOR = 4
"""Each side of a fused search fetches this many times ``limit`` candidates."""
Filter = dict[str, str | int | bool]
# Fixed forever: stored point ids are derived from it.
_ID_NAMESPACE = uuid.UUID("5d0c2f4e-7a43-4b8e-9d2a-0c6f3e9b1a57")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}")


class VectorPoint(msgspec.Struct, frozen=True):
    """A vector to store; ``payload`` keys starting with ``_`` (such as ``_id``) are reserved."""

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


class StoredPoint(msgspec.Struct, frozen=True):
    """What a backend writes: the Qdrant id, the vector(s) and the payload with ``_id``."""

    uid: str
    dense: list[float]
    sparse: SparseVector | None
    payload: dict[str, Any]


class RawHit(msgspec.Struct, frozen=True):
    """What a backend answers: the stored payload (with ``_id``) and the score."""

    uid: str
    score: float
    payload: dict[str, Any]


class VectorQuery(msgspec.Struct, frozen=True):
    """What a backend searches for: one vector, or both fused by RRF.

    ``named`` is True for a hybrid collection (the dense vector is then ``DENSE``)."""

    dense: list[float] | None
    sparse: SparseVector | None
    named: bool
    limit: int
    must: Filter | None
    score_threshold: float | None = None

    @property
    def fused(self) -> bool:
        """True when both vectors are given: each side prefetches, RRF merges them."""
        return self.dense is not None and self.sparse is not None

    @property
    def prefetch_limit(self) -> int:
        """How many candidates each side of a fused search fetches."""
        return PREFETCH_FACTOR * self.limit


class VectorBackend(Protocol):
    """One way to reach Qdrant; the store validates input and maps ids before calling it.

    ``layout`` ``plain`` is one unnamed dense vector; ``hybrid`` is ``DENSE`` plus an
    IDF-weighted ``SPARSE``. A missing collection raises NotFoundError."""

    async def ensure(self, name: str, layout: Layout, dimensions: int, distance: Distance) -> None:
        """Create unless it exists; ConflictError if it exists with another layout."""

    async def upsert(self, name: str, points: list[StoredPoint]) -> None: ...

    async def query(self, name: str, search: VectorQuery) -> list[RawHit]:
        """Nearest by one vector, or both fused by RRF (``RRF_K``, ``PREFETCH_FACTOR``)."""

    async def delete(self, name: str, uids: list[str]) -> None: ...

    async def delete_where(self, name: str, must: Filter) -> None: ...

    async def count(self, name: str) -> int: ...

    async def drop(self, name: str) -> bool: ...

    async def probe(self) -> None: ...

    async def close(self) -> None: ...


class VectorStore:
    """Collections of vectors with payload filters; one instance per process, closed at exit."""

    def __init__(self, backend: VectorBackend, *, embedded: bool) -> None:
        self._backend = backend
        self._embedded = embedded

    @property
    def embedded(self) -> bool:
        """True when Qdrant runs in this process, False for a server."""
        return self._embedded

    async def ensure_collection(
        self, name: str, *, dimensions: int, distance: Distance = "cosine"
    ) -> None:
        """Create ``name`` unless it exists; ConflictError if it exists with other parameters."""
        await self._backend.ensure(_name(name), "plain", _dimensions(dimensions), _dist(distance))

    async def ensure_hybrid_collection(
        self, name: str, *, dimensions: int, distance: Distance = "cosine"
    ) -> None:
        """Create ``name`` with a named dense vector and an IDF-weighted sparse one unless it
        exists; ConflictError if it exists with another layout."""
        await self._backend.ensure(_name(name), "hybrid", _dimensions(dimensions), _dist(distance))

    async def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        """Insert or replace ``points`` (matched by id) in collection ``name``."""
        stored = [_stored(p.id, p.vector, None, p.payload) for p in points]
        if stored:
            await self._backend.upsert(_name(name), stored)

    async def upsert_hybrid(self, name: str, points: Sequence[HybridPoint]) -> None:
        """Insert or replace hybrid ``points`` (matched by id) in collection ``name``."""
        stored = [_stored(p.id, p.dense, p.sparse, p.payload) for p in points]
        if stored:
            await self._backend.upsert(_name(name), stored)

    async def search(
        self, name: str, vector: list[float], *, limit: int = 10, must: Filter | None = None
    ) -> list[VectorHit]:
        """The ``limit`` nearest points, best first, whose payload equals every item of ``must``."""
        search = VectorQuery(vector, None, named=False, limit=_limit(limit), must=must or None)
        raw = await self._backend.query(_name(name), search)
        return [_hit(hit) for hit in raw]

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
        both fused with reciprocal rank fusion (each side fetches ``4 * limit``); the threshold
        applies to the final score (the RRF score when fused)."""
        if dense is None and sparse is None:
            raise InvalidRequestError("a vector search needs a dense or a sparse query")
        search = VectorQuery(
            dense,
            sparse,
            named=True,
            limit=_limit(limit),
            must=must or None,
            score_threshold=score_threshold,
        )
        raw = await self._backend.query(_name(name), search)
        return [_hit(hit) for hit in raw]

    async def delete(self, name: str, ids: Sequence[str]) -> None:
        """Remove the points with these ids; unknown ids are ignored."""
        if ids:
            await self._backend.delete(_name(name), [point_uid(i) for i in ids])

    async def delete_where(self, name: str, must: Filter) -> None:
        """Remove every point whose payload equals every item of ``must`` (never everything)."""
        if not must:
            raise InvalidRequestError("delete_where needs at least one condition")
        await self._backend.delete_where(_name(name), must)

    async def count(self, name: str) -> int:
        """Exact number of points in collection ``name``."""
        return await self._backend.count(_name(name))

    async def drop_collection(self, name: str) -> bool:
        """Delete collection ``name`` and its points; True when it existed."""
        return await self._backend.drop(_name(name))

    async def ping(self) -> None:
        """Raise StoreUnavailableError("vectors") unless the engine answers."""
        await self._backend.probe()

    async def close(self) -> None:
        """Release connections (server), or flush and unlock the data directory (embedded)."""
        await self._backend.close()


def open_vector_store(
    url: str,
    api_key: str,
    data_dir: Path,
    *,
    timeout: int = 10,
    lazy_lock: bool = False,
    embedded_engine: EmbeddedEngineName = "edge",
) -> VectorStore:
    """A Qdrant server store when ``url`` is set, else an embedded one: qdrant-edge-py under
    ``data_dir/qdrant-edge`` (``edge``) or qdrant-client's local mode under ``data_dir/qdrant``
    (``local``).

    Raises ConfigError for an unusable URL, StoreUnavailableError if the embedded data is locked
    (with ``lazy_lock``, the embedded lock is taken, and may fail, at the first use instead).
    """
    from kernel.storage.vector_client import ClientBackend
    from kernel.storage.vector_engines import EmbeddedEngine, ServerEngine

    if url:
        engine = ServerEngine(url, api_key, timeout=timeout)
        return VectorStore(ClientBackend(engine), embedded=False)
    if embedded_engine == "local":
        local = EmbeddedEngine(data_dir / "qdrant", lazy=lazy_lock)
        return VectorStore(ClientBackend(local), embedded=True)
    from kernel.storage.vector_edge import EdgeBackend

    return VectorStore(EdgeBackend(data_dir / "qdrant-edge", lazy=lazy_lock), embedded=True)


def point_uid(point_id: str) -> str:
    """The Qdrant id of the caller's ``point_id``."""
    return str(uuid.uuid5(_ID_NAMESPACE, point_id))


def _stored(
    point_id: str, dense: list[float], sparse: SparseVector | None, payload: dict[str, Any]
) -> StoredPoint:
    if any(key.startswith("_") for key in payload):
        raise InvalidRequestError(
            f"payload keys starting with '_' (such as '{ID_KEY}') are reserved"
        )
    if sparse is not None and len(sparse.indices) != len(sparse.values):
        raise InvalidRequestError("a sparse vector needs one value per index")
    return StoredPoint(point_uid(point_id), dense, sparse, {**payload, ID_KEY: point_id})


def _hit(raw: RawHit) -> VectorHit:
    payload = dict(raw.payload)
    original = payload.pop(ID_KEY, raw.uid)
    return VectorHit(id=str(original), score=raw.score, payload=payload)


def _name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidRequestError(f"invalid vector collection name {name[:40]!r}")
    return name


def _dist(distance: str) -> Distance:
    if distance not in DISTANCES:
        raise InvalidRequestError(f"unknown vector distance {distance!r}")
    return distance  # type: ignore[return-value]


def _dimensions(dimensions: int) -> int:
    if not 1 <= dimensions <= 65536:
        raise InvalidRequestError("vector dimensions must be between 1 and 65536")
    return dimensions


def _limit(limit: int) -> int:
    if limit < 1:
        raise InvalidRequestError("a vector search limit must be at least 1")
    return limit
