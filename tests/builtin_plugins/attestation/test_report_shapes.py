"""Every shape of ``/v1/attestation/report``: two-layer verified layer by layer, Tinfoil and
Chutes verified as far as their evidence goes and refused with the missing evidence named."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from builtin_plugins.attestation.attester import Attester, Target
from builtin_plugins.attestation.policy import TrustRule, Workload
from builtin_plugins.attestation.report_shapes import report_shape, verify_report
from builtin_plugins.attestation.settings import AttestationSettings
from builtin_plugins.attestation.simulated_quotes import (
    SIMULATOR_MR_TD,
    SIMULATOR_ROOT,
    TestRootQuotes,
)
from builtin_plugins.attestation.trust import Trust
from builtin_plugins.attestation.upstream import EvidenceClient
from builtin_plugins.attestation.verdicts import AttestationRejected
from builtin_plugins.simulators.keys import LEGACY_SIGNING_ADDRESS, TEST_API_KEY
from builtin_plugins.simulators.redpill_reports import (
    GATEWAY_SIGNING_ADDRESS,
    chutes_report,
    gateway_attestation,
    tinfoil_report,
)
from builtin_plugins.simulators.redpill_signing import legacy_report
from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator
from kernel.http import HttpClients

QWEN = "phala/qwen-2.5-7b-instruct"
QUOTES = TestRootQuotes((SIMULATOR_ROOT,))


def _body(report: dict[str, Any]) -> bytes:
    return msgspec.json.encode(report)


async def test_a_two_layer_report_verifies_the_gateway_and_every_model() -> None:
    nonce = secrets.token_bytes(32)
    report = legacy_report(nonce, QWEN)
    assert report_shape(report) == "two-layer"
    report["model_attestations"] = [report["model_attestations"][0]] * 2
    verified = await verify_report(_body(report), nonce=nonce, quotes=QUOTES)
    assert [m.signing_address for m in verified.models] == [LEGACY_SIGNING_ADDRESS] * 2
    assert verified.gateway is not None
    assert verified.gateway.signing_address == GATEWAY_SIGNING_ADDRESS


async def test_a_gateway_quote_bound_to_another_nonce_is_refused() -> None:
    nonce = secrets.token_bytes(32)
    report = legacy_report(nonce, QWEN)
    report["gateway_attestation"] = gateway_attestation(nonce, secrets.token_bytes(32))
    with pytest.raises(AttestationRejected, match="gateway: report_data does not bind our nonce"):
        await verify_report(_body(report), nonce=nonce, quotes=QUOTES)


async def test_each_model_attestation_must_bind_our_nonce() -> None:
    nonce = secrets.token_bytes(32)
    report = legacy_report(nonce, QWEN)
    stale = legacy_report(secrets.token_bytes(32), QWEN)["model_attestations"][0]
    report["model_attestations"].append(stale)
    with pytest.raises(AttestationRejected, match=r"model_attestations\[1\]: .*our nonce"):
        await verify_report(_body(report), nonce=nonce, quotes=QUOTES)
    report["model_attestations"] = []
    with pytest.raises(AttestationRejected, match="no model_attestations"):
        await verify_report(_body(report), nonce=nonce, quotes=QUOTES)


async def test_tinfoil_evidence_is_checked_then_refused_for_want_of_a_key() -> None:
    report = tinfoil_report()
    assert report_shape(report) == "tinfoil"
    with pytest.raises(AttestationRejected, match="tinfoil attestation carries no signing key"):
        await verify_report(_body(report), nonce=bytes(32), quotes=QUOTES)
    bare = {"intel_quote": report["intel_quote"], "all_attestations": [{"intel_quote": "00"}]}
    assert report_shape(bare) == "tinfoil"  # the redpill-gateway shape without the type
    forged = {**report, "intel_quote": report["intel_quote"][:-2] + "00"}
    with pytest.raises(AttestationRejected, match="does not verify"):
        await verify_report(_body(forged), nonce=bytes(32), quotes=QUOTES)


async def test_chutes_evidence_is_checked_then_refused() -> None:
    report = chutes_report()
    assert report_shape(report) == "chutes"
    with pytest.raises(AttestationRejected, match="nonce the gateway chose, not ours"):
        await verify_report(_body(report), nonce=secrets.token_bytes(32), quotes=QUOTES)
    ours = bytes.fromhex(report["nonce"])
    with pytest.raises(AttestationRejected, match="chutes attestation carries no signing key"):
        await verify_report(_body(report), nonce=ours, quotes=QUOTES)
    with pytest.raises(AttestationRejected, match="carries no evidence"):
        await verify_report(_body({"all_attestations": []}), nonce=ours, quotes=QUOTES)
    entry = report["all_attestations"][0]
    entry["intel_quote"] = base64.b64encode(b"not a quote").decode()
    with pytest.raises(AttestationRejected, match="not a test-root quote"):
        await verify_report(_body(report), nonce=ours, quotes=QUOTES)


@pytest.fixture
async def attester() -> AsyncIterator[tuple[Attester, SimulatorHandle]]:
    http = HttpClients()
    async with running_simulator("redpill") as sim:
        yield Attester(EvidenceClient(http, timeout=5)), sim
    await http.close()


def _trust(*mr_tds: str) -> Trust:
    rules = tuple(TrustRule(workloads=[Workload(mr_td=m, note="test")]) for m in mr_tds)
    return Trust(quotes=QUOTES, label="simulated", simulated=True, rules=rules)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("nearai/deepseek-v3.1", ""),
        ("tinfoil/llama3-3-70b", "tinfoil attestation carries no signing key"),
        ("moonshotai/kimi-k2.5", "nonce the gateway chose"),
    ],
)
async def test_every_upstream_is_verified_from_the_simulator(
    attester: tuple[Attester, SimulatorHandle], model: str, reason: str
) -> None:
    run, sim = attester
    target = Target(provider="redpill", model=model, url=sim.base_url, api_key=TEST_API_KEY)
    verdict = await run.attest(
        target, trust=_trust(SIMULATOR_MR_TD), settings=AttestationSettings()
    )
    assert verdict.valid is (not reason), verdict.reason
    assert reason in verdict.reason


async def test_a_refused_two_layer_report_keeps_its_measurements(
    attester: tuple[Attester, SimulatorHandle],
) -> None:
    run, sim = attester
    target = Target(provider="redpill", model=QWEN, url=sim.base_url, api_key=TEST_API_KEY)
    verdict = await run.attest(target, trust=_trust(), settings=AttestationSettings())
    assert not verdict.valid
    assert verdict.measurements  # kept for an admin to review
