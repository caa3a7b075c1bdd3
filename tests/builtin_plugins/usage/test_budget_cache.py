"""The per-replica budget cache: concurrent misses share one SQL query; a change is never
hidden by a lookup that began before it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.usage import Stack, create_budget

import builtin_plugins.usage.runtime as usage_runtime
from kernel.types import Principal


async def test_concurrent_misses_share_one_query_and_changes_drop_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with stack() as env:
        await create_budget(env, owner_type="user", owner_id=env.user_id, limit_micros=10**9)
        runtime = env.runtime()
        real = usage_runtime.budgets_for
        queries: list[Any] = []
        release = asyncio.Event()

        async def counted(db: Any, owners: Any) -> Any:
            queries.append(owners)
            await release.wait()
            return await real(db, owners)

        monkeypatch.setattr(usage_runtime, "budgets_for", counted)
        await runtime.on_changed(b"")
        user = Principal(kind="user", id=env.user_id, owner_id=env.user_id)
        lookups = [asyncio.create_task(runtime.budgets_for(user)) for _ in range(8)]
        await asyncio.sleep(0.01)
        assert len(queries) == 1
        await runtime.on_changed(b"")  # a change while the query runs: the next caller asks anew
        later = asyncio.create_task(runtime.budgets_for(user))
        await asyncio.sleep(0.01)
        assert len(queries) == 2
        release.set()
        answers = await asyncio.gather(*lookups, later)
        assert all(a == answers[0] and len(a) == 1 for a in answers)
        assert await runtime.budgets_for(user) == answers[-1]  # cached now
        assert len(queries) == 2
