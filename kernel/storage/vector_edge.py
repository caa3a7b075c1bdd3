"""The embedded backend of the vectors seam: qdrant-edge-py, Qdrant's Rust engine in process.

Each collection is one edge shard in ``root/<name>`` with a small ``enclava.json`` (layout,
dimensions, distance) beside its segments; ``root/.enclava.lock`` keeps other processes out.
Qdrant's own search does the work: HNSW and the sparse inverted index, the sparse vectors'
IDF modifier (``Modifier.Idf``) and reciprocal rank fusion (``Fusion.Rrf``, the same ``k`` as
the server), with payload filters on keyword indexes made the first time a key is filtered on.

What the engine leaves to its host, this module does (and
:mod:`kernel.storage.vector_edge_requests`, which shadows boolean payload fields as integers
the engine can match). An edge shard runs its optimizers only
when asked, so once writes to a shard have paused for a second a background thread calls
``optimize()`` (merging segments and building their HNSW graphs, as a server's optimizers
would), again after later writes; a shard opened with unindexed data gets one too. Closing
waits for a running build, never starts one. (Calling ``optimize()`` after every batch of a
bulk load rebuilt the growing index again and again: 100k points took 22 minutes and 4.5 GB.)
Calls run in worker threads (the engine releases the GIL), so the event loop never waits on a
search or an index build.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread

from kernel.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    StoreUnavailableError,
)
from kernel.storage.vector_edge_requests import (
    conditions,
    edge_config,
    edge_filter,
    edge_point,
    edge_request,
    without_bools,
)
from kernel.storage.vector_engines import DirectoryLock
from kernel.storage.vectors import Distance, Filter, Layout, RawHit, StoredPoint, VectorQuery

if TYPE_CHECKING:
    from qdrant_edge import EdgeShard

__all__ = ["EdgeBackend"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_META = "enclava.json"
_QUIET = 1.0  # seconds without writes before a shard's optimizers run
_REJECTED = ("dimension", "wrong input", "bad input", "not existing vector", "bad request")


class _Shard:
    """One open edge shard: its layout, its payload indexes and its background optimizer."""

    def __init__(self, shard: EdgeShard, meta: dict[str, Any]) -> None:
        self.shard = shard
        self.meta = meta
        self.indexed = set(shard.info().payload_schema)
        self._lock = threading.Lock()
        self._dirty = False
        self._closed = False
        self._last_write = 0.0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.written()  # indexes what a previous run left unindexed (a no-op otherwise)

    def index(self, must: Filter) -> None:
        """Keyword/integer/bool payload indexes for the keys of ``must`` (made once)."""
        from qdrant_edge import PayloadSchemaType, UpdateOperation

        for key, value in conditions(must):
            if key in self.indexed:
                continue
            kind = (
                PayloadSchemaType.Integer if isinstance(value, int) else PayloadSchemaType.Keyword
            )
            with self._lock:
                if key not in self.indexed:
                    self.shard.update(UpdateOperation.create_field_index(key, kind))
                    self.indexed.add(key)

    def written(self) -> None:
        """Schedule ``optimize()`` in the background once writes have paused for a moment."""
        with self._lock:
            self._dirty = True
            self._last_write = time.monotonic()
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._optimize, name="vectors-optimize", daemon=True
                )
                self._thread.start()

    def _optimize(self) -> None:
        while True:
            with self._lock:
                quiet = time.monotonic() - self._last_write
                if self._closed or (not self._dirty and quiet >= _QUIET):
                    self._thread = None
                    return
                if quiet >= _QUIET:
                    self._dirty = False
            if quiet < _QUIET:
                # A bulk load pays for one index build at its end, not one per batch.
                self._wake.wait(_QUIET - quiet)
                continue
            try:
                self.shard.optimize()
                self.shard.flush()  # persists the segments, so the write-ahead log can shrink
            except Exception:
                log.exception("optimizing an embedded vector collection failed")

    def settle(self) -> None:
        """Wait until the background optimizer has nothing left to do."""
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                return
            thread.join()

    def close(self) -> None:
        """Wait for the optimizer, flush and close the shard."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
        self.shard.flush()
        self.shard.close()


class EdgeBackend:
    """:class:`~kernel.storage.vectors.VectorBackend` on qdrant-edge-py shards under ``root``."""

    def __init__(self, root: Path, *, lazy: bool = False) -> None:
        self._lock = DirectoryLock(root, lazy=lazy)
        self._root = root
        self._shards: dict[str, _Shard] = {}
        self._mutex = threading.Lock()

    async def ensure(self, name: str, layout: Layout, dimensions: int, distance: Distance) -> None:
        wanted = {"layout": layout, "dimensions": dimensions, "distance": distance}
        await self._run(name, lambda: self._ensure(name, wanted))

    async def upsert(self, name: str, points: list[StoredPoint]) -> None:
        def write() -> None:
            from qdrant_edge import UpdateOperation

            shard = self._open(name)
            hybrid = shard.meta["layout"] == "hybrid"
            if hybrid and any(p.sparse is None for p in points):
                raise InvalidRequestError(f"vector collection '{name}' needs hybrid points")
            if not hybrid and any(p.sparse is not None for p in points):
                raise InvalidRequestError(f"vector collection '{name}' holds plain vectors")
            edge_points = [edge_point(p, hybrid) for p in points]
            shard.shard.update(UpdateOperation.upsert_points(edge_points))
            shard.written()

        await self._run(name, write)

    async def query(self, name: str, search: VectorQuery) -> list[RawHit]:
        def run() -> list[RawHit]:
            shard = self._open(name)
            if search.named != (shard.meta["layout"] == "hybrid"):
                raise InvalidRequestError(f"vector collection '{name}' has another layout")
            if search.must:
                shard.index(search.must)
            found = shard.shard.query(edge_request(search))
            return [RawHit(str(p.id), p.score, without_bools(p.payload)) for p in found]

        return await self._run(name, run)

    async def delete(self, name: str, uids: list[str]) -> None:
        def remove() -> None:
            from qdrant_edge import UpdateOperation

            shard = self._open(name)
            shard.shard.update(UpdateOperation.delete_points(list(uids)))
            shard.written()

        await self._run(name, remove)

    async def delete_where(self, name: str, must: Filter) -> None:
        def remove() -> None:
            from qdrant_edge import UpdateOperation

            shard = self._open(name)
            shard.index(must)
            shard.shard.update(UpdateOperation.delete_points_by_filter(edge_filter(must)))
            shard.written()

        await self._run(name, remove)

    async def count(self, name: str) -> int:
        def count() -> int:
            from qdrant_edge import CountRequest

            return self._open(name).shard.count(CountRequest(exact=True))

        return await self._run(name, count)

    async def drop(self, name: str) -> bool:
        return await self._run(name, lambda: self._drop(name))

    async def wait_indexed(self) -> None:
        """Wait until every open collection's background index build is done (benchmarks)."""

        def settle() -> None:
            with self._mutex:
                shards = list(self._shards.values())
            for shard in shards:
                shard.settle()

        await anyio.to_thread.run_sync(settle)

    async def probe(self) -> None:
        self._lock.probe()

    async def close(self) -> None:
        def close_all() -> None:
            with self._mutex:
                shards, self._shards = list(self._shards.values()), {}
            for shard in shards:
                shard.close()

        try:
            await anyio.to_thread.run_sync(close_all)
        finally:
            self._lock.release()

    async def _run(self, name: str, work: Callable[[], T]) -> T:
        def guarded() -> T:
            with _guard(name):
                return work()

        return await anyio.to_thread.run_sync(guarded)

    def _open(self, name: str) -> _Shard:
        from qdrant_edge import EdgeShard

        with self._mutex:
            self._lock.acquire()
            shard = self._shards.get(name)
            if shard is None:
                meta = _read_meta(self._root / name)
                if meta is None:
                    raise NotFoundError(f"vector collection '{name}' not found")
                shard = _Shard(EdgeShard.load(str(self._root / name)), meta)
                self._shards[name] = shard
            return shard

    def _ensure(self, name: str, wanted: dict[str, Any]) -> None:
        from qdrant_edge import EdgeShard

        with self._mutex:
            self._lock.acquire()
            meta = _read_meta(self._root / name)
            if meta is None:
                # Built aside and renamed into place: a crash never leaves half a collection.
                staging = self._root / f".new-{uuid.uuid4().hex}"
                EdgeShard.create(str(staging), edge_config(wanted)).close()
                (staging / _META).write_text(json.dumps(wanted))
                if (self._root / name).exists():
                    shutil.rmtree(self._root / name)
                staging.rename(self._root / name)
                meta = wanted
        if meta != wanted:
            raise ConflictError(
                f"vector collection '{name}' exists with {meta.get('layout')} "
                f"{meta.get('dimensions')} dimensions ({meta.get('distance')}), not "
                f"{wanted['layout']} {wanted['dimensions']} ({wanted['distance']})"
            )

    def _drop(self, name: str) -> bool:
        with self._mutex:
            self._lock.acquire()
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
            existed = _read_meta(self._root / name) is not None
            shutil.rmtree(self._root / name, ignore_errors=True)
            return existed


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta: dict[str, Any] = json.loads((path / _META).read_text())
    except FileNotFoundError:
        return None
    return meta


@contextmanager
def _guard(collection: str) -> Iterator[None]:
    """Translate the engine's failures (plain ``Exception`` with a message) into the tree."""
    try:
        yield
    except (InvalidRequestError, NotFoundError, ConflictError, StoreUnavailableError):
        raise
    except OSError as exc:
        raise StoreUnavailableError("vectors", reason=type(exc).__name__) from exc
    except Exception as exc:
        message = str(exc)
        if any(marker in message.lower() for marker in _REJECTED):
            raise InvalidRequestError(
                f"vector store rejected the request: {message}"[:300]
            ) from exc
        log.warning("embedded vector collection %s failed: %s", collection, message[:300])
        raise StoreUnavailableError("vectors", reason=message[:120]) from exc
