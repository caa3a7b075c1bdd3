"""The ``BudgetQueries`` service other plugins (the dashboard) read budgets and spend through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.usage import Stack, chat, create_budget, records

from kernel import BudgetQueries, Principal


async def test_budgets_of_a_user_cover_their_keys_and_spend_is_recorded_cost(
    stack: Stack,
) -> None:
    async with stack() as env:
        assert (await chat(env)).status_code == 200
        on_key = await create_budget(env, limit_micros=10**9, period="daily")
        on_user = await create_budget(
            env, owner_type="user", owner_id=env.user_id, limit_micros=10**9, period="monthly"
        )
        await env.flush()
        queries = env.runtime().kernel.service(BudgetQueries)
        principal = Principal(kind="user", id=env.user_id, owner_id=env.user_id)
        found = {status.id: status for status in await queries.budgets_of(principal)}
        stranger = Principal(kind="user", id="nobody", owner_id="nobody")
        assert await queries.budgets_of(stranger) == []
        since = datetime.now(UTC) - timedelta(hours=1)
        spent = await queries.spent_since(env.user_id, since)
        recorded = sum(row["cost_micros"] for row in await records(env))
        later = await queries.spent_since(env.user_id, datetime.now(UTC) + timedelta(hours=1))
    assert set(found) == {on_key["budget"]["id"], on_user["budget"]["id"]}
    assert found[on_user["budget"]["id"]].owner_type == "user"
    assert found[on_key["budget"]["id"]].limit_micros == 10**9
    assert spent == recorded > 0
    assert later == 0
