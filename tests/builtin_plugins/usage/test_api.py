"""The usage, budget and pricing APIs through the real app: aggregates equal a brute-force sum
over the records, users see only their own, prices change forward only."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
from support.gateway import EMBEDDING, REDPILL_ONLY, SHARED
from support.identity import create_user, login
from support.usage import PASSWORD, Env, Stack, chat, create_budget, records

SUMS = ("prompt_tokens", "completion_tokens", "total_tokens", "cost_micros")
GROUP_COLUMNS = {"user": "user_id", "key": "key_id", "provider": "provider", "model": "model"}


async def _second_user(env: Env) -> tuple[str, dict[str, str], str]:
    """Another user with a key: (user id, JWT headers, key)."""
    user_id = await create_user(env.apps[0], "other@example.com", PASSWORD)
    async with env.client() as client:
        headers = await login(client, "other@example.com", PASSWORD)
        created = await client.post(
            "/api-internal/v1/api-keys", headers=headers, json={"name": "o"}
        )
    return user_id, headers, created.json()["key"]


async def _traffic(env: Env, other_key: str) -> None:
    async with env.client() as client:
        for key, model in [
            (env.key, SHARED),
            (env.key, SHARED),
            (env.key, REDPILL_ONLY),
            (other_key, SHARED),
            (other_key, REDPILL_ONLY),
        ]:
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            answer = await client.post(
                "/api/v1/chat/completions", headers=env.bearer(key), json=body
            )
            assert answer.status_code == 200, answer.text
        embedded = await client.post(
            "/api/v1/embeddings", headers=env.bearer(), json={"model": EMBEDDING, "input": "x"}
        )
        assert embedded.status_code == 200


def _brute_force(
    rows: list[dict[str, Any]], groups: list[str]
) -> dict[tuple[Any, ...], dict[str, int]]:
    sums: dict[tuple[Any, ...], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("requests", *SUMS), 0)
    )
    for row in rows:
        key = tuple(row[GROUP_COLUMNS.get(g, g)] for g in groups)
        sums[key]["requests"] += 1
        for name in SUMS:
            sums[key][name] += row[name]
    return dict(sums)


def _from_api(
    data: list[dict[str, Any]], groups: list[str]
) -> dict[tuple[Any, ...], dict[str, int]]:
    return {
        tuple(item["group"][g] for g in groups): {k: item[k] for k in ("requests", *SUMS)}
        for item in data
    }


async def test_aggregates_match_a_brute_force_sum(stack: Stack) -> None:
    async with stack() as env:
        other_id, other_headers, other_key = await _second_user(env)
        await _traffic(env, other_key)
        rows = await records(env)
        async with env.client() as client:
            checks = {}
            for groups in (
                ["user", "key", "provider", "model", "day"],
                ["model"],
                ["kind", "day"],
                [],
            ):
                got = await client.get(
                    "/api-internal/v1/usage/aggregate",
                    headers=env.admin,
                    params={"group_by": ",".join(groups), "limit": 1000},
                )
                assert got.status_code == 200, got.text
                checks[tuple(groups)] = got.json()
            paged = await client.get(
                "/api-internal/v1/usage/aggregate",
                headers=env.admin,
                params={"group_by": "model", "limit": 1, "offset": 1},
            )
            mine = await client.get(
                "/api-internal/v1/usage/aggregate",
                headers=env.user,
                params={"group_by": "user", "user_id": other_id},
            )
            public = await client.get("/api/v1/usage", headers=env.bearer())
            top = await client.get(
                "/api-internal/v1/usage/top", headers=env.admin, params={"by": "key"}
            )
            top_refused = await client.get("/api-internal/v1/usage/top", headers=env.user)
            export = await client.get("/api-internal/v1/usage/export", headers=other_headers)
    assert len(rows) == 6
    for groups, body in checks.items():
        assert _from_api(body["data"], list(groups)) == _brute_force(rows, list(groups))
        assert body["currency"] == "EUR"
    assert paged.json()["total"] == 3
    assert len(paged.json()["data"]) == 1
    assert [d["group"]["user"] for d in mine.json()["data"]] == [env.user_id]
    own_rows = [r for r in rows if r["key_id"] == env.key_id]
    assert _from_api(public.json()["data"], ["day", "model"]) == _brute_force(
        own_rows, ["day", "model"]
    )
    by_key = _brute_force(rows, ["key"])
    costs = [d["cost_micros"] for d in top.json()["data"]]
    assert costs == sorted((v["cost_micros"] for v in by_key.values()), reverse=True)
    assert top_refused.status_code == 403
    lines = list(csv.DictReader(io.StringIO(export.text)))
    assert export.headers["content-type"].startswith("text/csv")
    assert {line["user_id"] for line in lines} == {other_id}
    assert len(lines) == 2


async def test_prices_change_forward_only(stack: Stack) -> None:
    async with stack() as env:
        assert (await chat(env)).status_code == 200
        async with env.client() as client:
            price = {
                "provider": "privatemode",
                "model": "gpt-oss-120b",
                "input_per_million": "1000",
                "output_per_million": "2000.5",
                "currency": "EUR",
            }
            refused = await client.post("/api-internal/v1/pricing", headers=env.user, json=price)
            bad = await client.post(
                "/api-internal/v1/pricing", headers=env.admin, json={**price, "currency": "GBP"}
            )
            created = await client.post("/api-internal/v1/pricing", headers=env.admin, json=price)
            assert (await chat(env)).status_code == 200
            current = await client.get("/api-internal/v1/pricing", headers=env.user)
            cleared = await client.post(
                "/api-internal/v1/pricing/clear",
                headers=env.admin,
                json={"provider": "privatemode", "model": "gpt-oss-120b"},
            )
            assert (await chat(env)).status_code == 200
            history = await client.get(
                "/api-internal/v1/pricing/history",
                headers=env.user,
                params={"provider": "privatemode", "model": "gpt-oss-120b"},
            )
        rows = await records(env)
    assert (refused.status_code, bad.status_code, created.status_code) == (403, 400, 201)
    assert [r["input_price"] for r in rows] == ["0.2", "1000", "0.2"]
    override = rows[1]
    assert override["cost_micros"] == override["prompt_tokens"] * 1000 + int(
        (override["completion_tokens"] * Decimal("2000.5")).to_integral_value(
            rounding="ROUND_CEILING"
        )
    )
    entry = next(
        p for p in current.json() if p["provider"] == "privatemode" and p["model"] == "gpt-oss-120b"
    )
    assert (entry["source"], entry["input_per_million"]) == ("admin", "1000")
    assert cleared.status_code == 201
    assert [(h["source"], h["input_per_million"]) for h in history.json()["data"]] == [
        ("admin", "1000"),
        ("admin", None),
    ]
    redpill = [p for p in current.json() if p["provider"] == "redpill"]
    assert redpill
    assert all(p["source"] == "discovery" for p in redpill)


async def test_budget_crud_and_visibility(stack: Stack) -> None:
    async with stack() as env:
        other_id, other_headers, _ = await _second_user(env)
        mine = await create_budget(env, limit_micros=500, period="weekly")
        theirs = await create_budget(env, owner_type="user", owner_id=other_id, limit_micros=7)
        budget_id = mine["budget"]["id"]
        async with env.client() as client:
            listed = await client.get("/api-internal/v1/budgets", headers=env.user)
            everything = await client.get("/api-internal/v1/budgets", headers=env.admin)
            hidden = await client.get(
                f"/api-internal/v1/budgets/{theirs['budget']['id']}", headers=env.user
            )
            own = await client.get(f"/api-internal/v1/budgets/{budget_id}", headers=env.user)
            not_admin = await client.patch(
                f"/api-internal/v1/budgets/{budget_id}", headers=env.user, json={"hard": False}
            )
            patched = await client.patch(
                f"/api-internal/v1/budgets/{budget_id}",
                headers=env.admin,
                json={"limit_micros": 900, "warning_percent": None},
            )
            empty = await client.patch(
                f"/api-internal/v1/budgets/{budget_id}", headers=env.admin, json={}
            )
            deleted = await client.delete(
                f"/api-internal/v1/budgets/{budget_id}", headers=env.admin
            )
            gone = await client.get(f"/api-internal/v1/budgets/{budget_id}", headers=env.admin)
            status = await client.get("/api/v1/budget/status", headers=env.bearer())
            other_view = await client.get("/api-internal/v1/budgets", headers=other_headers)
    assert [b["budget"]["id"] for b in listed.json()["data"]] == [budget_id]
    assert everything.json()["total"] == 2
    assert (hidden.status_code, own.status_code, not_admin.status_code) == (404, 200, 403)
    assert own.json()["status"]["period"] == "weekly"
    assert patched.json()["budget"]["limit_micros"] == 900
    assert patched.json()["budget"]["warning_percent"] is None
    assert empty.status_code == 400
    assert (deleted.status_code, gone.status_code) == (204, 404)
    assert status.json()["data"] == []
    assert [b["budget"]["owner_id"] for b in other_view.json()["data"]] == [other_id]


async def test_bad_queries_are_refused(stack: Stack) -> None:
    async with stack() as env, env.client() as client:
        answers: list[httpx.Response] = [
            await client.get(
                "/api-internal/v1/usage/aggregate", headers=env.admin, params={"group_by": "nope"}
            ),
            await client.get(
                "/api/v1/usage",
                headers=env.bearer(),
                params={"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            ),
            await client.post(
                "/api-internal/v1/budgets",
                headers=env.admin,
                json={"owner_type": "team", "owner_id": "x", "name": "n", "limit_micros": 1},
            ),
        ]
    assert [a.status_code for a in answers] == [400, 400, 400]
    error = answers[2].json()["error"]
    assert error["param"] == "owner_type"
    assert error["message"].endswith("allowed values: api_key, chatbot, plugin, user.")
