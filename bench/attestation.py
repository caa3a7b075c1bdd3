"""Attestation benchmark: cost of verifying one answer (legacy, aci/1) and of a full attestation.

Usage: ``.venv/bin/python bench/attestation.py [--calls 300]``

Method: one process, one event loop, the RedPill simulator on loopback. "CPU" rows time the pure
checks (EIP-191 recovery; Ed25519 over JCS plus body hashes). "per answer" rows time what the
gateway awaits per verified answer: fetching the signature / receipt from the provider and
checking it (loopback, so network latency to the real provider comes on top). "DCAP" rows verify
the real TDX quote of ``tests/data/attestation`` with ``dcap-qvl`` at a time inside its
collateral window, with collateral cached (the steady state) and parsed afresh each time. "full
attestation" rows run a whole attestation against the simulator under its test root (nonce,
report fetch, quote check). Medians in microseconds. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import dcap_qvl
import httpx

from builtin_plugins.attestation.aci import verify_receipt
from builtin_plugins.attestation.attester import Attester, Target
from builtin_plugins.attestation.collateral import CollateralCache
from builtin_plugins.attestation.legacy import verify_signature
from builtin_plugins.attestation.quotes import DcapQuotes
from builtin_plugins.attestation.responses import ResponseChecker
from builtin_plugins.attestation.settings import AttestationSettings
from builtin_plugins.attestation.trust import simulated_trust
from builtin_plugins.attestation.upstream import EvidenceClient
from builtin_plugins.attestation.verdicts import Verdict
from builtin_plugins.simulators.aci import AciService, Exchange
from builtin_plugins.simulators.jcs import canonical_json
from builtin_plugins.simulators.keys import TEST_API_KEY
from builtin_plugins.simulators.testing import running_simulator
from kernel.http import HttpClients
from kernel.upstream import ModelInfo, ResponseEvidence

VECTORS = Path(__file__).resolve().parents[1] / "tests" / "data" / "attestation"
QUOTE_NOW = 1750329207
MODEL = "phala/qwen-2.5-7b-instruct"
REQUEST = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


async def timed(calls: int, run: Callable[[], Awaitable[object]]) -> float:
    await run()
    samples = []
    for _ in range(calls):
        began = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - began)
    return median_us(samples)


async def cpu_rows(calls: int) -> dict[str, float]:
    vector = json.loads((VECTORS / "redpill" / "legacy_signature_vector.json").read_text())
    signature = json.dumps(vector["signature_response"]).encode()
    request, response = (vector[k].encode() for k in ("request_body_utf8", "response_body_utf8"))
    service = AciService(3600)
    receipt = canonical_json(
        service.issue(
            Exchange(
                receipt_id="r",
                chat_id="c",
                model=MODEL,
                endpoint="/v1/chat/completions",
                request_body=request,
                response_body=response,
                verified=True,
                owner=None,
            )
        )
    )

    async def legacy() -> None:
        verify_signature(
            signature,
            request_body=request,
            response_bodies=(response,),
            address=vector["signing_address"],
        )

    async def aci() -> None:
        verify_receipt(
            receipt, keyset=service.keyset, request_body=request, response_bodies=(response,)
        )

    return {
        "legacy signature check (CPU)": await timed(calls, legacy),
        "aci/1 receipt check (CPU)": await timed(calls, aci),
    }


async def dcap_rows(calls: int) -> dict[str, float]:
    quote = (VECTORS / "dcap-qvl" / "tdx_quote").read_bytes()
    text = (VECTORS / "dcap-qvl" / "tdx_quote_collateral.json").read_text()

    class Files:
        async def fetch(self, quote: bytes) -> dcap_qvl.QuoteCollateralV3:
            return dcap_qvl.QuoteCollateralV3.from_json(text)

    def dcap(cached: bool) -> Callable[[], Awaitable[object]]:
        clock = lambda: QUOTE_NOW  # noqa: E731
        cache = CollateralCache(Files(), clock=clock if cached else lambda: 1e12)
        quotes = DcapQuotes(cache, clock=clock)
        return lambda: quotes.verify(quote)

    return {
        "DCAP quote verify, collateral cached": await timed(calls, dcap(True)),
        "DCAP quote verify, collateral parsed each time": await timed(calls, dcap(False)),
    }


async def _answer(base_url: str) -> bytes:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/chat/completions",
            content=REQUEST,
            headers={"authorization": f"Bearer {TEST_API_KEY}", "content-type": "application/json"},
        )
        return response.content


async def scheme_rows(
    calls: int, scheme: str, client: EvidenceClient, target: Target
) -> dict[str, float]:
    settings = AttestationSettings(redpill_scheme=scheme)  # type: ignore[arg-type]
    attester, trust = Attester(client), simulated_trust(settings)
    verdict: Verdict = await attester.attest(target, trust=trust, settings=settings)
    assert verdict.valid, verdict.reason
    evidence = ResponseEvidence(
        provider="redpill",
        model=ModelInfo(id=MODEL, provider="redpill", upstream_id=MODEL, region="us"),
        request_id="bench",
        stream=False,
        request_body=REQUEST,
        response_body=await _answer(target.url),
    )
    checker = ResponseChecker(client)
    return {
        f"full attestation, {scheme} (simulated root)": await timed(
            calls, lambda: attester.attest(target, trust=trust, settings=settings)
        ),
        f"per answer, {scheme} (fetch + check, loopback)": await timed(
            calls, lambda: checker.check(evidence, verdict, target)
        ),
    }


async def simulator_rows(calls: int) -> dict[str, float]:
    http = HttpClients()
    client = EvidenceClient(http, timeout=10)
    try:
        async with running_simulator("redpill") as sim:
            target = Target(provider="redpill", model=MODEL, url=sim.base_url, api_key=TEST_API_KEY)
            return {
                **await scheme_rows(calls, "legacy", client, target),
                **await scheme_rows(calls, "aci", client, target),
            }
    finally:
        await http.close()


async def main(args: argparse.Namespace) -> None:
    rows = {
        **await cpu_rows(args.calls),
        **await dcap_rows(args.calls),
        **await simulator_rows(args.calls),
    }
    width = max(len(name) for name in rows)
    for name, value in rows.items():
        print(f"{name:<{width}}  {value:10.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    asyncio.run(main(parser.parse_args()))
