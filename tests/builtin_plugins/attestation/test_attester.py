"""One attestation against a real RedPill simulator, under each trust anchor, failing closed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from builtin_plugins.attestation.attester import Attester, Target
from builtin_plugins.attestation.settings import AttestationSettings
from builtin_plugins.attestation.trust import production_trust, simulated_trust
from builtin_plugins.attestation.upstream import EvidenceClient
from builtin_plugins.simulators.keys import LEGACY_SIGNING_ADDRESS, TEST_API_KEY
from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator
from kernel.http import HttpClients

MODEL = "phala/qwen-2.5-7b-instruct"
SETTINGS = AttestationSettings()


@pytest.fixture
async def attester() -> AsyncIterator[Attester]:
    http = HttpClients()
    yield Attester(EvidenceClient(http, timeout=5))
    await http.close()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    async with running_simulator("redpill") as handle:
        yield handle


def _target(url: str) -> Target:
    return Target(provider="redpill", model=MODEL, url=url, api_key=TEST_API_KEY)


async def test_the_simulator_attests_under_its_test_root(
    attester: Attester, sim: SimulatorHandle
) -> None:
    verdict = await attester.attest(
        _target(sim.base_url), trust=simulated_trust(SETTINGS), settings=SETTINGS
    )
    assert verdict.valid, verdict.reason
    assert verdict.signing_address == LEGACY_SIGNING_ADDRESS
    assert verdict.expires_at > verdict.checked_at


async def test_each_attestation_uses_a_fresh_nonce(
    attester: Attester, sim: SimulatorHandle
) -> None:
    trust = simulated_trust(SETTINGS)
    for _ in range(2):
        await attester.attest(_target(sim.base_url), trust=trust, settings=SETTINGS)
    nonces = [r.query for r in await sim.control.requests("/v1/attestation/report")]
    assert len(set(nonces)) == 2


async def test_production_dcap_refuses_the_simulated_quote(
    attester: Attester, sim: SimulatorHandle
) -> None:
    verdict = await attester.attest(
        _target(sim.base_url), trust=production_trust(SETTINGS), settings=SETTINGS
    )
    assert not verdict.valid
    assert "not a DCAP quote" in verdict.reason


async def test_a_simulated_root_never_attests_a_remote_provider(attester: Attester) -> None:
    verdict = await attester.attest(
        _target("https://api.redpill.ai/v1"), trust=simulated_trust(SETTINGS), settings=SETTINGS
    )
    assert not verdict.valid
    assert "loopback" in verdict.reason


async def test_an_unreachable_provider_fails_closed(attester: Attester) -> None:
    verdict = await attester.attest(
        _target("http://127.0.0.1:9/v1"), trust=simulated_trust(SETTINGS), settings=SETTINGS
    )
    assert not verdict.valid
    assert "unavailable" in verdict.reason


async def test_an_error_answer_fails_closed(attester: Attester, sim: SimulatorHandle) -> None:
    await sim.control.set_faults(status=500, paths=("/v1/attestation",))
    verdict = await attester.attest(
        _target(sim.base_url), trust=simulated_trust(SETTINGS), settings=SETTINGS
    )
    assert not verdict.valid
    assert "HTTP 500" in verdict.reason
