"""The simulated NRAS: verdicts bound to the evidence's nonce, signed by the JWKS key."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from builtin_plugins.simulators.redpill_signing import nvidia_payload
from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    async with running_simulator("redpill") as handle:
        yield handle


async def _verdict(sim: SimulatorHandle, payload: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.post("/nras/v3/attest/gpu", content=payload)
        jwks = (await client.get("/nras/.well-known/jwks.json")).json()
    kind, token = answer.json()[0]
    assert kind == "JWT"
    key = jwt.PyJWKSet.from_dict(jwks).keys[0]
    return dict(jwt.decode(token, key=key, algorithms=["ES384"]))


async def test_genuine_evidence_gets_a_positive_verdict_for_its_nonce(sim: SimulatorHandle) -> None:
    nonce = secrets.token_hex(32)
    claims = await _verdict(sim, nvidia_payload(nonce, with_evidence=True))
    assert claims["x-nvidia-overall-att-result"] is True
    assert claims["eat_nonce"] == nonce


async def test_missing_or_foreign_evidence_gets_a_negative_verdict(sim: SimulatorHandle) -> None:
    nonce = secrets.token_hex(32)
    empty = await _verdict(sim, nvidia_payload(nonce, with_evidence=False))
    assert empty["x-nvidia-overall-att-result"] is False
    foreign = json.loads(nvidia_payload(secrets.token_hex(32), with_evidence=True))
    foreign["nonce"] = nonce
    assert (await _verdict(sim, json.dumps(foreign)))["x-nvidia-overall-att-result"] is False


async def test_a_rogue_signer_fails_the_jwks(sim: SimulatorHandle) -> None:
    await sim.control.set_nras(rogue_key=True)
    with pytest.raises(jwt.InvalidSignatureError):
        await _verdict(sim, nvidia_payload(secrets.token_hex(32), with_evidence=True))


@pytest.mark.parametrize("mode", ["wrong_nonce", "replay", "foreign_address"])
async def test_report_modes_are_accepted_and_unknown_ones_refused(
    sim: SimulatorHandle, mode: str
) -> None:
    await sim.control.set_report_mode(mode)
    with pytest.raises(httpx.HTTPStatusError):
        await sim.control.set_report_mode("lie-differently")
