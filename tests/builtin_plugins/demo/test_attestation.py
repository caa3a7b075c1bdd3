"""Demo attestation against a real RedPill simulator: fresh nonces, tampering, fail closed."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from aiohttp import web

from builtin_plugins.demo.attestation import (
    SimulatedAttestations,
    SimulatedPrivatemodeVerifier,
    SimulatedRedPillVerifier,
)
from builtin_plugins.providers.redpill import RedPillProvider
from builtin_plugins.providers.settings import RedPillSettings
from builtin_plugins.simulators.eip191 import legacy_report_data
from builtin_plugins.simulators.keys import LEGACY_SIGNING_ADDRESS, TEST_API_KEY
from builtin_plugins.simulators.simquote import build_sim_quote
from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator
from kernel.http import HttpClients
from kernel.types import AttestationStatus, ModelInfo

MODEL = "phala/qwen-2.5-7b-instruct"
TTL = 300.0
Fetch = Callable[[dict[str, str]], Awaitable[dict[str, Any]]]
Tamper = Callable[[dict[str, str], Fetch], Awaitable[dict[str, Any]]]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[HttpClients]:
    clients = HttpClients()
    yield clients
    await clients.close()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    async with running_simulator("redpill") as handle:
        yield handle


@contextlib.asynccontextmanager
async def tampering_proxy(sim: SimulatorHandle, tamper: Tamper) -> AsyncIterator[str]:
    """A loopback RedPill whose attestation reports ``tamper`` rewrites; yields its base URL."""

    async def fetch(query: dict[str, str]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            response = await client.get("/attestation/report", params=query)
            report: dict[str, Any] = response.json()
            return report

    async def report(request: web.Request) -> web.Response:
        return web.json_response(await tamper(dict(request.query), fetch))

    app = web.Application()
    app.router.add_get("/v1/attestation/report", report)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


async def _replayed(query: dict[str, str], fetch: Fetch) -> dict[str, Any]:
    """A genuine report for another nonce, echoing ours as if it were bound."""
    report = await fetch({**query, "nonce": secrets.token_hex(32)})
    return {**report, "request_nonce": query["nonce"]}


async def _forged(query: dict[str, str], fetch: Fetch) -> dict[str, Any]:
    """The right report data, in a quote signed by a root that is not the simulator's."""
    report = await fetch(query)
    data = legacy_report_data(LEGACY_SIGNING_ADDRESS, bytes.fromhex(query["nonce"]))
    return {**report, "intel_quote": build_sim_quote(data, root_seed=bytes(32)).hex()}


async def _provider(sim: SimulatorHandle, http: HttpClients) -> RedPillProvider:
    settings = RedPillSettings(url=sim.base_url, api_key=TEST_API_KEY)
    provider = RedPillProvider(settings, api_key=TEST_API_KEY, http=http)
    await provider.refresh()
    assert provider.healthy
    return provider


async def _model(provider: RedPillProvider, model_id: str) -> ModelInfo:
    return next(m for m in await provider.list_models() if m.id == model_id)


async def test_the_simulators_report_is_verified_with_a_fresh_nonce_each_time(
    sim: SimulatorHandle, http: HttpClients
) -> None:
    attestations = SimulatedAttestations(http)
    first = await attestations.attest(sim.base_url, TEST_API_KEY, MODEL, ttl_seconds=TTL)
    second = await attestations.attest(sim.base_url, TEST_API_KEY, MODEL, ttl_seconds=TTL)
    assert first.valid, first.reason
    assert second.valid
    assert first.signing_address == LEGACY_SIGNING_ADDRESS
    queries = [parse_qs(r.query) for r in await sim.control.requests("/v1/attestation/report")]
    nonces = [q["nonce"][0] for q in queries]
    assert len(nonces) == 2
    assert len(set(nonces)) == 2
    assert all(len(bytes.fromhex(n)) == 32 for n in nonces)
    assert {q["model"][0] for q in queries} == {MODEL}


@pytest.mark.parametrize(("tamper", "reason"), [(_replayed, "nonce"), (_forged, "trusted root")])
async def test_a_tampered_report_is_rejected(
    sim: SimulatorHandle, http: HttpClients, tamper: Tamper, reason: str
) -> None:
    async with tampering_proxy(sim, tamper) as url:
        verdict = await SimulatedAttestations(http).attest(url, "", MODEL, ttl_seconds=TTL)
    assert not verdict.valid
    assert reason in verdict.reason


@pytest.mark.parametrize(
    "url", ["https://api.redpill.ai/v1", "http://192.0.2.10:8090/v1", "http://example.com/v1"]
)
async def test_a_non_loopback_url_is_never_asked(http: HttpClients, url: str) -> None:
    verdict = await SimulatedAttestations(http).attest(url, "key", MODEL, ttl_seconds=TTL)
    assert not verdict.valid
    assert "loopback" in verdict.reason


async def test_refresh_attests_every_listed_model_and_the_verifier_says_simulated(
    sim: SimulatorHandle, http: HttpClients
) -> None:
    provider = await _provider(sim, http)
    attestations = SimulatedAttestations(http)
    verifier = SimulatedRedPillVerifier(attestations)
    model = await _model(provider, MODEL)
    assert verifier.status("redpill", model) == AttestationStatus(
        valid=False, label="simulated", reason="attestation pending"
    )
    await attestations.refresh([provider], TTL)
    for listed in await provider.list_models():
        assert verifier.status("redpill", listed) == AttestationStatus(
            valid=True, label="simulated"
        )
    assert not verifier.status("another-redpill", model).valid
    assert SimulatedPrivatemodeVerifier().status("privatemode", model).label == "simulated"


async def test_verdicts_are_renewed_after_the_ttl_and_expire_without_renewal(
    sim: SimulatorHandle, http: HttpClients
) -> None:
    provider = await _provider(sim, http)
    clock = Clock()
    attestations = SimulatedAttestations(http, clock=clock)
    model = await _model(provider, MODEL)
    await attestations.refresh([provider], TTL)
    asked = len(await sim.control.requests("/v1/attestation/report"))
    clock.now += TTL - 1
    await attestations.refresh([provider], TTL)  # still fresh: nothing fetched
    assert len(await sim.control.requests("/v1/attestation/report")) == asked
    clock.now += 1
    await attestations.refresh([provider], TTL)
    assert len(await sim.control.requests("/v1/attestation/report")) == 2 * asked
    assert attestations.status("redpill", model).valid
    clock.now += 2 * TTL
    assert attestations.status("redpill", model).reason == "attestation expired"


async def test_a_failing_report_endpoint_fails_closed(
    sim: SimulatorHandle, http: HttpClients
) -> None:
    provider = await _provider(sim, http)
    clock = Clock()
    attestations = SimulatedAttestations(http, clock=clock)
    model = await _model(provider, MODEL)
    await attestations.refresh([provider], TTL)
    assert attestations.status("redpill", model).valid
    await sim.control.set_faults(status=500, paths=("/v1/attestation",))
    clock.now += TTL
    await attestations.refresh([provider], TTL)
    status = attestations.status("redpill", model)
    assert not status.valid
    assert "HTTP 500" in status.reason
    await sim.control.clear_faults()
    await attestations.refresh([provider], TTL)  # a failed verdict is retried at once
    assert attestations.status("redpill", model).valid


async def test_an_unreachable_simulator_fails_closed(http: HttpClients) -> None:
    async with running_simulator("redpill") as gone:
        url = gone.base_url
    verdict = await SimulatedAttestations(http).attest(url, "", MODEL, ttl_seconds=TTL)
    assert not verdict.valid
    assert "unavailable" in verdict.reason


async def test_a_verdict_is_not_reused_for_a_provider_moved_to_another_url(
    sim: SimulatorHandle, http: HttpClients
) -> None:
    attestations = SimulatedAttestations(http)
    await attestations.refresh([await _provider(sim, http)], TTL)
    async with running_simulator("redpill") as moved:
        await attestations.refresh([await _provider(moved, http)], TTL)
        assert await moved.control.requests("/v1/attestation/report")
