"""``/api/v1/models`` lists a RedPill model when, and only while, its attestation verifies.

Through the real app, against the RedPill simulator under its test root: every confidential
upstream RedPill serves is discovered (Phala, NEAR AI, Tinfoil, Chutes), the ones whose evidence
verifies are listed and routed, the Tinfoil and Chutes ones are refused with the missing
evidence named and never listed, and a model whose attestation fails leaves the list.
"""

from __future__ import annotations

from typing import Any

import httpx
from support.gateway import REDPILL_ONLY, Env

from builtin_plugins.simulators.redpill_models import CATALOG

from .conftest import NEVER_ATTESTED, Attested, admin, origin, statuses, until_attested

NEAR_AI = "nearai/deepseek-v3.1"
TEE = {m.id for m in CATALOG if m.is_tee}


async def _get(env: Env, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=origin(env), timeout=20) as client:
        return await client.get(f"/api/v1{path}", headers={"authorization": f"Bearer {env.key}"})


async def _listed(env: Env, provider: str = "redpill") -> set[str]:
    """The model ids ``/api/v1/models`` lists with ``provider`` among their providers."""
    answer = await _get(env, "/models")
    assert answer.status_code == 200, answer.text
    return {e["id"] for e in answer.json()["data"] if provider in e["providers"]}


def _by_model(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["upstream_model"]: s for s in found if s["provider"] == "redpill"}


async def test_only_models_whose_evidence_verifies_are_listed(attested_gateway: Attested) -> None:
    async with attested_gateway() as env:
        found = _by_model(await statuses(env))
        assert set(found) == TEE  # every confidential upstream is discovered
        assert (
            "tinfoil attestation carries no signing key" in found["tinfoil/llama3-3-70b"]["reason"]
        )
        assert "nonce the gateway chose" in found["moonshotai/kimi-k2.5"]["reason"]
        assert found[NEAR_AI]["verified"]
        listed = await _listed(env)
        assert {REDPILL_ONLY, NEAR_AI} <= listed
        assert not listed & NEVER_ATTESTED
        for model in NEVER_ATTESTED:
            answer = await _get(env, f"/models/{model}")
            assert answer.status_code == 404, answer.text
        async with env.client() as client:
            chat = await client.chat.completions.with_raw_response.create(
                model=NEAR_AI, messages=[{"role": "user", "content": "hello"}]
            )
        assert chat.headers["x-enclava-provider"] == "redpill"


async def test_a_model_leaves_the_list_while_its_attestation_fails(
    attested_gateway: Attested,
) -> None:
    async with attested_gateway() as env:
        assert REDPILL_ONLY in await _listed(env)
        await env.redpill.control.set_report_mode("wrong_nonce")
        answer = await admin(env, "POST", "/attestation/reverify")
        assert answer.status_code == 200, answer.text
        assert not await _listed(env)
        assert await _listed(env, "privatemode")  # Privatemode's models stay
        assert (await _get(env, f"/models/{REDPILL_ONLY}")).status_code == 404
        await env.redpill.control.set_report_mode("none")
        await until_attested(env)
        assert REDPILL_ONLY in await _listed(env)
