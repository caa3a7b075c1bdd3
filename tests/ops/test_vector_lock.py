"""The embedded vector store's lock: at open by default, at the first use with ``lazy_lock``
(what ``--workers N`` opens, so workers that never use vectors never contend for it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.errors import StoreUnavailableError
from kernel.storage.vectors import VectorPoint, open_vector_store


async def test_lazy_store_locks_at_first_use(tmp_path: Path) -> None:
    first = open_vector_store("", "", tmp_path, lazy_lock=True)
    second = open_vector_store("", "", tmp_path, lazy_lock=True)  # no lock taken yet
    try:
        await first.ping()
        await second.ping()
        await first.ensure_collection("c", dimensions=2)
        await first.upsert("c", [VectorPoint(id="a", vector=[1.0, 0.0])])
        # The first use took the lock: the other store fails when it is used, not before.
        with pytest.raises(StoreUnavailableError, match="in use by another process"):
            await second.count("c")
        # An eager open fails at once while the lock is held.
        with pytest.raises(StoreUnavailableError, match="in use"):
            open_vector_store("", "", tmp_path)
    finally:
        await first.close()
        await second.close()
    reopened = open_vector_store("", "", tmp_path)
    try:
        assert await reopened.count("c") == 1
    finally:
        await reopened.close()


async def test_closed_lazy_store_is_unavailable(tmp_path: Path) -> None:
    store = open_vector_store("", "", tmp_path, lazy_lock=True)
    await store.close()
    with pytest.raises(StoreUnavailableError):
        await store.ping()
    with pytest.raises(StoreUnavailableError, match="closed"):
        await store.ensure_collection("c", dimensions=2)
