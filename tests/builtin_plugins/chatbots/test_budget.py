"""Chatbot budgets (``owner_type = "chatbot"``) through the real app, on SQLite+memory,
PostgreSQL+Redis and a real Redis Cluster: a chatbot stops at its limit on every route (402
``insufficient_quota``, like a key budget), never overspends, settles to the recorded cost, and
its counters share one slot with its owner's user and key counters."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from support.usage import Env, Stack, cluster_stack, create_budget, records, stack

__all__ = ["cluster_stack", "stack"]  # fixtures

QUESTION = [{"role": "user", "content": "Say hello in three words."}]


async def _chatbot(env: Env, headers: dict[str, str] | None = None) -> str:
    async with env.client() as client:
        made = await client.post(
            "/api-internal/v1/chatbots",
            headers=headers or env.user,
            json={"name": "budgeted", "model": "gpt-oss-120b", "max_tokens": 8},
        )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def _talk(env: Env, bot: str, route: str = "completions", **fields: Any) -> httpx.Response:
    """One turn with ``bot`` over the public API with ``env.key``: the OpenAI-compatible
    route (``completions``) or the simple one (``chat``)."""
    if route == "completions":
        url, body = f"/api/v1/chatbots/{bot}/chat/completions", {"messages": QUESTION, **fields}
    else:
        url, body = f"/api/v1/chatbots/{bot}/chat", {"message": QUESTION[0]["content"], **fields}
    async with env.client() as client:
        return await client.post(url, headers=env.bearer(), json=body)


async def _budget_view(env: Env, budget_id: str, headers: dict[str, str]) -> httpx.Response:
    async with env.client() as client:
        return await client.get(f"/api-internal/v1/budgets/{budget_id}", headers=headers)


def _reserved(refusal: httpx.Response) -> int:
    match = re.search(r"may cost up to (\d+)\.(\d{6})", refusal.json()["error"]["message"])
    assert match is not None, refusal.text
    return int(match.group(1)) * 1_000_000 + int(match.group(2))


async def _cost_and_reservation(env: Env, bot: str) -> tuple[int, int]:
    """What one turn costs (no budget yet) and what admission reserves for it (a chatbot
    budget of 0 refuses and says; deleted again)."""
    first = await _talk(env, bot)
    assert first.status_code == 200, first.text
    (row,) = [r for r in await records(env) if r["request_id"] == first.headers["x-request-id"]]
    assert row["chatbot_id"] == bot
    assert row["cost_micros"] > 0
    probe = await create_budget(env, owner_type="chatbot", owner_id=bot, limit_micros=0)
    refused = await _talk(env, bot)
    async with env.client() as client:
        url = f"/api-internal/v1/budgets/{probe['budget']['id']}"
        assert (await client.delete(url, headers=env.admin)).status_code == 204
    assert refused.status_code == 402, refused.text
    return int(row["cost_micros"]), _reserved(refused)


async def _stops_at_its_limit(env: Env) -> None:
    bot, other = await _chatbot(env), await _chatbot(env)
    cost, reserved = await _cost_and_reservation(env, bot)
    limit = reserved * 2 + cost * 2  # room for three turns of any kind, then a few more
    budget = await create_budget(
        env, owner_type="chatbot", owner_id=bot, limit_micros=limit, period="daily"
    )
    # Generous budgets on the key and its user ride in the same reservation (one slot).
    await create_budget(env, limit_micros=10**9)
    await create_budget(env, owner_type="user", owner_id=env.user_id, limit_micros=10**9)
    answers = [
        await _talk(env, bot, stream=True),
        await _talk(env, bot, route="chat"),
        await _talk(env, bot, route="chat", stream=True),
    ]
    assert [a.status_code for a in answers] == [200] * 3, [a.text for a in answers]
    more = [await _talk(env, bot) for _ in range(12)]
    assert 402 in [m.status_code for m in more]
    refusals = [
        more[-1],
        await _talk(env, bot, stream=True),
        await _talk(env, bot, route="chat"),
        await _talk(env, bot, route="chat", stream=True),
    ]
    elsewhere = await _talk(env, other)  # the budget is this chatbot's only
    async with env.client() as client:
        plain = await client.post(
            "/api/v1/chat/completions",
            headers=env.bearer(),
            json={"model": "gpt-oss-120b", "messages": QUESTION, "max_tokens": 8},
        )
    view = await _budget_view(env, budget["budget"]["id"], env.user)  # its owner reads it
    rows = [r for r in await records(env) if r["chatbot_id"] == bot][2:]  # after the probe
    assert [r.status_code for r in refusals] == [402] * 4
    for refusal in refusals:
        error = refusal.json()["error"]
        assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
        assert "chatbot budget 'test'" in error["message"]
    assert elsewhere.status_code == plain.status_code == 200
    served = [r for r in rows if r["status"] == 200]
    assert len(served) >= 3
    assert all(r["cost_micros"] > 0 for r in served)
    assert all(r["cost_micros"] == 0 for r in rows if r["status"] == 402)
    spent = sum(r["cost_micros"] for r in rows)
    assert view.status_code == 200, view.text
    assert view.json()["status"]["spent_micros"] == spent <= limit  # settled: nothing held
    assert limit - spent < reserved * 2  # refused only once no room for a turn was left


async def test_a_chatbot_budget_stops_it_on_every_route(stack: Stack) -> None:
    async with stack() as env:
        await _stops_at_its_limit(env)


async def test_cluster_reserves_chatbot_key_and_user_budgets_in_one_script(
    cluster_stack: Stack,
) -> None:
    # The chatbot's counter carries its owner's hash tag: one slot with the key's and the
    # user's, else the cluster would refuse the script (CROSSSLOT) and every turn would fail.
    async with cluster_stack() as env:
        await _stops_at_its_limit(env)


async def test_concurrent_turns_never_overspend(stack: Stack) -> None:
    async with stack() as env:
        bot = await _chatbot(env)
        cost, reserved = await _cost_and_reservation(env, bot)
        limit = reserved + cost * 4
        budget = await create_budget(
            env, owner_type="chatbot", owner_id=bot, limit_micros=limit, period="total"
        )
        answers = await asyncio.gather(*(_talk(env, bot) for _ in range(20)))
        codes = [a.status_code for a in answers]
        rows = [r for r in await records(env) if r["chatbot_id"] == bot][2:]
        view = await _budget_view(env, budget["budget"]["id"], env.admin)
    assert set(codes) <= {200, 402}, codes
    assert 1 <= codes.count(200) <= 5
    spent = sum(r["cost_micros"] for r in rows)
    assert spent <= limit
    assert view.json()["status"]["spent_micros"] == spent


async def _admin_plays_with_a_users_chatbot(env: Env) -> None:
    """An admin's session talking to another user's chatbot spends for the admin's user (one
    hash tag) and the chatbot (its owner's): two reservations, the first given back when the
    second refuses."""
    bot = await _chatbot(env)
    cost, reserved = await _cost_and_reservation(env, bot)
    admin_id = await _user_id(env, env.admin)
    own = await create_budget(env, owner_type="user", owner_id=admin_id, limit_micros=10**9)
    limit = reserved + cost - 1  # one turn, then no room for a second reservation
    await create_budget(env, owner_type="chatbot", owner_id=bot, limit_micros=limit)
    url = f"/api-internal/v1/chatbots/{bot}/chat"
    async with env.client() as client:
        played = [
            await client.post(url, headers=env.admin, json={"message": QUESTION[0]["content"]})
            for _ in range(3)
        ]
    admin_view = await _budget_view(env, own["budget"]["id"], env.admin)
    assert [p.status_code for p in played] == [200, 402, 402], [p.text for p in played]
    assert "chatbot budget" in played[1].json()["error"]["message"]
    (row,) = [r for r in await records(env) if r["user_id"] == admin_id and r["status"] == 200]
    assert row["chatbot_id"] == bot
    # The refused turns' reservations on the admin's own budget were given back.
    assert admin_view.json()["status"]["spent_micros"] == row["cost_micros"]


async def _user_id(env: Env, headers: dict[str, str]) -> str:
    async with env.client() as client:
        me = await client.get("/api-internal/v1/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    return str(me.json()["id"])


async def test_an_admin_on_another_users_chatbot_reserves_per_slot(stack: Stack) -> None:
    async with stack() as env:
        await _admin_plays_with_a_users_chatbot(env)


async def test_cluster_admin_on_another_users_chatbot(cluster_stack: Stack) -> None:
    async with cluster_stack() as env:
        await _admin_plays_with_a_users_chatbot(env)


async def test_chatbot_budgets_are_shown_to_its_owner_and_set_by_admins(stack: Stack) -> None:
    async with stack() as env:
        bot = await _chatbot(env)
        budget = await create_budget(env, owner_type="chatbot", owner_id=bot, limit_micros=10**6)
        budget_id = budget["budget"]["id"]
        async with env.client() as client:
            other = await _other_user(env, client)
            listed = await client.get(
                "/api-internal/v1/budgets",
                headers=env.user,
                params={"owner_type": "chatbot", "owner_id": bot},
            )
            hidden = await client.get(f"/api-internal/v1/budgets/{budget_id}", headers=other)
            hidden_list = await client.get(
                "/api-internal/v1/budgets",
                headers=other,
                params={"owner_type": "chatbot", "owner_id": bot},
            )
            body = {"owner_type": "chatbot", "owner_id": bot, "name": "x", "limit_micros": 1}
            by_owner = await client.post("/api-internal/v1/budgets", headers=env.user, json=body)
            missing = await client.post(
                "/api-internal/v1/budgets",
                headers=env.admin,
                json={**body, "owner_id": "0" * 32},
            )
            changed = await client.patch(
                f"/api-internal/v1/budgets/{budget_id}",
                headers=env.admin,
                json={"limit_micros": 2 * 10**6},
            )
    assert listed.status_code == 200, listed.text
    assert [b["budget"]["id"] for b in listed.json()["data"]] == [budget_id]
    assert listed.json()["data"][0]["status"]["owner_type"] == "chatbot"
    assert hidden.status_code == 404
    assert hidden_list.json()["data"] == []
    assert by_owner.status_code == 403
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "owner_id"
    assert changed.status_code == 200
    assert changed.json()["budget"]["limit_micros"] == 2 * 10**6


async def _other_user(env: Env, client: httpx.AsyncClient) -> dict[str, str]:
    from support.identity import create_user, login

    email = f"other-{env.user_id[:8]}@example.com"
    await create_user(env.apps[0], email, "correct horse battery staple")
    return await login(client, email, "correct horse battery staple")
