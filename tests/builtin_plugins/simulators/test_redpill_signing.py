"""RedPill's legacy signatures and attestation report, checked over the exact wire bytes."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import httpx

from builtin_plugins.simulators.eip191 import legacy_report_data, recover_personal
from builtin_plugins.simulators.keys import (
    LEGACY_SIGNING_ADDRESS,
    TEST_API_KEY,
    sim_root_public_key,
)
from builtin_plugins.simulators.simquote import verify_sim_quote
from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator

CHAT = "phala/qwen-2.5-7b-instruct"
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
REQUEST = json.dumps(
    {"model": CHAT, "messages": [{"role": "user", "content": "sign   this, exactly"}]}, indent=1
).encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _signature(raw: httpx.AsyncClient, sim: SimulatorHandle, chat_id: str) -> dict[str, Any]:
    response = await raw.get(
        f"{sim.base_url}/signature/{chat_id}", params={"model": CHAT, "signing_algo": "ecdsa"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_signature_covers_the_exact_request_and_response_bytes() -> None:
    async with running_simulator("redpill") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        response = await raw.post(
            f"{sim.base_url}/chat/completions",
            content=REQUEST,
            headers={"Content-Type": "application/json"},
        )
        signed = await _signature(raw, sim, response.json()["id"])
        by_receipt = await _signature(raw, sim, response.headers["x-receipt-id"])
    assert signed["text"] == f"{_sha(REQUEST)}:{_sha(response.content)}"
    assert signed["signing_algo"] == "ecdsa"
    assert signed["signing_address"] == LEGACY_SIGNING_ADDRESS
    assert recover_personal(signed["text"], signed["signature"]) == signed["signing_address"]
    assert by_receipt["text"] == signed["text"]
    assert signed["receipt"]["receipt_id"] == response.headers["x-receipt-id"]


async def test_stream_signature_covers_the_raw_sse_bytes() -> None:
    body = json.dumps(
        {"model": CHAT, "messages": [{"role": "user", "content": "a b"}], "stream": True}
    )
    async with running_simulator("redpill") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        async with raw.stream("POST", f"{sim.base_url}/chat/completions", content=body) as response:
            received = b"".join([part async for part in response.aiter_raw()])
        frames = [f for f in received.split(b"\n\n") if f]
        chat_id = json.loads(frames[0].removeprefix(b"data: "))["id"]
        assert all(json.loads(f.removeprefix(b"data: "))["id"] == chat_id for f in frames[:-1])
        signed = await _signature(raw, sim, chat_id)
    assert received.endswith(b"data: [DONE]\n\n")
    assert signed["text"] == f"{_sha(body.encode())}:{_sha(received)}"
    assert recover_personal(signed["text"], signed["signature"]) == LEGACY_SIGNING_ADDRESS


async def test_embeddings_are_signed_under_their_receipt_id() -> None:
    request = b'{"model": "qwen/qwen3-embedding-8b", "input": "x", "dimensions": 4}'
    async with running_simulator("redpill") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        response = await raw.post(f"{sim.base_url}/embeddings", content=request)
        signed = await _signature(raw, sim, response.headers["x-receipt-id"])
    assert signed["text"] == f"{_sha(request)}:{_sha(response.content)}"


async def test_a_tampered_response_no_longer_matches_its_signature() -> None:
    async with (
        running_simulator("redpill", tamper=True, fail_times=1) as sim,
        httpx.AsyncClient(headers=AUTH) as raw,
    ):
        response = await raw.post(f"{sim.base_url}/chat/completions", content=REQUEST)
        signed = await _signature(raw, sim, response.json()["id"])
    assert signed["text"].split(":")[0] == _sha(REQUEST)
    assert signed["text"].split(":")[1] != _sha(response.content)
    assert recover_personal(signed["text"], signed["signature"]) == LEGACY_SIGNING_ADDRESS


async def test_signatures_belong_to_the_key_that_asked() -> None:
    async with running_simulator("redpill") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        chat_id = (await raw.post(f"{sim.base_url}/chat/completions", content=REQUEST)).json()["id"]
        async with httpx.AsyncClient() as nobody:
            anonymous = await nobody.get(f"{sim.base_url}/signature/{chat_id}")
        other = await raw.get(
            f"{sim.base_url}/signature/{chat_id}", headers={"Authorization": "Bearer x"}
        )
        unknown = await raw.get(f"{sim.base_url}/signature/chatcmpl-nope")
        ed25519 = await raw.get(
            f"{sim.base_url}/signature/{chat_id}", params={"signing_algo": "ed25519"}
        )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "unauthorized"
    assert other.status_code == 404
    assert unknown.status_code == 404
    assert ed25519.status_code == 400
    assert ed25519.json()["error"]["type"] == "invalid_signing_algo"


async def test_attestation_report_binds_address_and_nonce_in_a_simulated_quote() -> None:
    nonce = secrets.token_hex(32)
    async with running_simulator("redpill") as sim, httpx.AsyncClient() as raw:
        url = f"{sim.base_url}/attestation/report"
        report = (await raw.get(url, params={"model": CHAT, "nonce": nonce})).json()
        non_tee = (await raw.get(url, params={"model": "openai/gpt-4o", "nonce": nonce})).json()
        filtered = await raw.get(
            url, params={"model": CHAT, "signing_address": LEGACY_SIGNING_ADDRESS.lower()}
        )
        elsewhere = await raw.get(url, params={"model": CHAT, "signing_address": "0x" + "00" * 20})
        bad_nonce = await raw.get(url, params={"model": CHAT, "nonce": "abc"})
    assert report["signing_address"] == LEGACY_SIGNING_ADDRESS
    assert report["request_nonce"] == nonce
    quote = verify_sim_quote(bytes.fromhex(report["intel_quote"]), sim_root_public_key())
    assert quote.report_data == legacy_report_data(report["signing_address"], bytes.fromhex(nonce))
    gpu = json.loads(report["nvidia_payload"])
    assert gpu["nonce"] == nonce
    assert gpu["arch"] == "HOPPER"
    assert gpu["evidence_list"]
    assert json.loads(non_tee["nvidia_payload"])["evidence_list"] == []
    assert report["all_attestations"][0]["intel_quote"] == report["intel_quote"]
    assert report["signing_public_key"].startswith("04")
    assert len(report["signing_public_key"]) == 130
    assert filtered.status_code == 200
    assert len(filtered.json()["request_nonce"]) == 64
    assert elsewhere.status_code == 404
    assert bad_nonce.status_code == 400
