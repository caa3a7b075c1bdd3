"""The attestation plugin's services: ``AttestationOverview`` (what ``GET /api/v1/attestation``
answers) and ``SimulatedTrust`` (demo mode's switch), obtained by type from the kernel."""

from __future__ import annotations

from kernel.services import AttestationOverview, SimulatedTrust

from .conftest import Attested, statuses


async def test_the_overview_service_is_what_the_status_route_answers(
    attested_gateway: Attested,
) -> None:
    async with attested_gateway() as env:
        overview = env.kernel.service(AttestationOverview)
        served = {(e.provider, e.model, e.verified, e.reason) for e in await overview.entries()}
        routed = {
            (s["provider"], s["model"], s["verified"], s["reason"]) for s in await statuses(env)
        }
        assert served == routed
        assert any(verified for _, _, verified, _ in served)


async def test_simulated_trust_switches_the_anchor_and_back(attested_gateway: Attested) -> None:
    async with attested_gateway() as env:
        trust = env.kernel.service(SimulatedTrust)
        trust.trust_simulators(False)
        labels = {s["label"] for s in await statuses(env) if s["provider"] == "redpill"}
        assert labels == {"verified"}
        trust.trust_simulators(True)
        labels = {s["label"] for s in await statuses(env) if s["provider"] == "redpill"}
        assert labels == {"simulated"}
