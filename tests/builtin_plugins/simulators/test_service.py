"""The simulators as the kernel's ``ProviderSimulators`` service (what demo mode runs)."""

from __future__ import annotations

import httpx

from builtin_plugins.simulators.service import InProcessSimulators
from kernel.services import ProviderSimulators


async def test_a_simulator_serves_with_the_key_it_was_given() -> None:
    simulators = InProcessSimulators()
    assert isinstance(simulators, ProviderSimulators)
    async with simulators.serve("redpill", host="127.0.0.1", port=0, api_key="demo-key") as url:
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v1")
        body = {
            "model": "phala/qwen-2.5-7b-instruct",
            "messages": [{"role": "user", "content": "hi"}],
        }
        async with httpx.AsyncClient(base_url=url) as client:
            good = await client.post(
                "/chat/completions", json=body, headers={"Authorization": "Bearer demo-key"}
            )
            bad = await client.post(
                "/chat/completions", json=body, headers={"Authorization": "Bearer other"}
            )
    assert good.status_code == 200
    assert bad.status_code == 401
