"""Disabling ``usage`` would switch hard budgets off: refused (409, naming them) while any
exists, on the internal API of either replica and from the CLI; allowed once none is hard."""

from __future__ import annotations

import pytest
from support.usage import Stack, chat, create_budget

from kernel.errors import ConflictError
from kernel.operations import toggle_plugin
from kernel.plugins import PluginManager

DISABLE = "/api-internal/v1/plugins/usage/disable"


async def test_usage_cannot_be_disabled_while_a_hard_budget_exists(stack: Stack) -> None:
    async with stack(replicas=2) as env:
        budget = await create_budget(env, name="team-cap", limit_micros=1, period="total")
        for index in (0, 1):
            async with env.client(index) as client:
                refused = await client.post(DISABLE, headers=env.admin)
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["type"] == "conflict_error"
            assert "1 hard budget(s) (team-cap)" in error["message"]
        settings = env.apps[1].state.kernel.settings
        with pytest.raises(ConflictError, match="team-cap"):
            await toggle_plugin(settings, PluginManager(), "usage", enabled=False)
        assert [(await chat(env, index=i)).status_code for i in (0, 1)] == [402, 402]
        async with env.client() as client:
            soft = await client.patch(
                f"/api-internal/v1/budgets/{budget['budget']['id']}",
                headers=env.admin,
                json={"hard": False},
            )
            assert soft.status_code == 200, soft.text
            assert (await client.post(DISABLE, headers=env.admin)).status_code == 200
