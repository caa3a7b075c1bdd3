"""The RedPill simulator's aci/1 surface: report, keyset, receipts, sessions, headers."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

import httpx

from builtin_plugins.simulators import aci_crypto
from builtin_plugins.simulators.keys import TEST_API_KEY, sim_root_public_key
from builtin_plugins.simulators.simquote import verify_sim_quote
from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator

CHAT = "phala/qwen-2.5-7b-instruct"
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
REQUEST = b'{"model":"phala/qwen-2.5-7b-instruct","messages":[{"role":"user","content":"hi"}]}'


async def _report(raw: httpx.AsyncClient, sim: SimulatorHandle, nonce: str) -> dict[str, Any]:
    response = await raw.get(f"{sim.base_url}/aci/attestation", params={"nonce": nonce})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_report_binds_keyset_and_nonce_into_a_simulated_quote() -> None:
    nonce = secrets.token_hex(32)
    async with running_simulator("redpill") as sim, httpx.AsyncClient() as raw:
        report = await _report(raw, sim, nonce)
        unchallenged = (await raw.get(f"{sim.base_url}/aci/attestation")).json()
        bad = await raw.get(f"{sim.base_url}/aci/attestation", params={"nonce": nonce.upper()})
    keyset = report["attestation"]["workload_keyset"]
    digest = aci_crypto.keyset_digest(keyset)
    assert report["api_version"] == "aci/1"
    assert report["workload_keyset_digest"] == digest
    assert keyset["receipt_signing_keys"][0]["algo"] == "ed25519"
    assert keyset["not_after"] > time.time()
    expected = aci_crypto.report_data(digest, nonce)
    assert report["attestation"]["report_data"] == expected.hex()
    quote = verify_sim_quote(
        bytes.fromhex(report["attestation"]["evidence"]["quote"]), sim_root_public_key()
    )
    assert quote.report_data == expected + bytes(32)
    assert unchallenged["attestation"]["report_data"] == aci_crypto.report_data(digest, None).hex()
    assert report["service_capabilities"]["serving"] == "aggregator"
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"


async def test_receipts_sign_exact_bytes_for_plain_and_streamed_answers() -> None:
    stream_body = REQUEST[:-1] + b',"stream":true}'
    async with running_simulator("redpill") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        keyset = (await _report(raw, sim, secrets.token_hex(32)))["attestation"]["workload_keyset"]
        plain = await raw.post(f"{sim.base_url}/chat/completions", content=REQUEST)
        async with raw.stream(
            "POST", f"{sim.base_url}/chat/completions", content=stream_body
        ) as streamed:
            received = b"".join([part async for part in streamed.aiter_raw()])
            stream_receipt_id = streamed.headers["x-receipt-id"]
        receipts = []
        for receipt_id in (plain.headers["x-receipt-id"], stream_receipt_id):
            response = await raw.get(f"{sim.base_url}/aci/receipts/{receipt_id}")
            receipts.append(json.loads(response.content))
        by_chat = (await raw.get(f"{sim.base_url}/aci/receipts/{plain.json()['id']}")).json()
    for receipt, request, response_bytes in (
        (receipts[0], REQUEST, plain.content),
        (receipts[1], stream_body, received),
    ):
        aci_crypto.verify_receipt(receipt, keyset)
        events = {e["type"]: e for e in receipt["event_log"]}
        assert events["request.received"]["body_hash"] == aci_crypto.body_hash(request)
        assert events["request.forwarded"]["body_hash"] == aci_crypto.body_hash(request)
        assert events["response.returned"]["body_hash"] == aci_crypto.body_hash(response_bytes)
        assert events["upstream.verified"]["result"] == "verified"
        assert receipt["model"] == CHAT
        assert receipt["endpoint"] == "/v1/chat/completions"
    assert receipts[0]["chat_id"] == plain.json()["id"]
    assert by_chat == receipts[0]


async def test_session_is_content_addressed_and_non_tee_receipts_say_unverified() -> None:
    async with running_simulator("redpill") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        tee = await raw.post(f"{sim.base_url}/chat/completions", content=REQUEST)
        other = await raw.post(
            f"{sim.base_url}/chat/completions",
            json={"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        )
        receipt = (
            await raw.get(f"{sim.base_url}/aci/receipts/{tee.headers['x-receipt-id']}")
        ).json()
        unverified = (
            await raw.get(f"{sim.base_url}/aci/receipts/{other.headers['x-receipt-id']}")
        ).json()
        session_id = next(e for e in receipt["event_log"] if e["type"] == "upstream.verified")[
            "session_id"
        ]
        session = await raw.get(f"{sim.base_url}/aci/sessions/{session_id}")
        listing = (await raw.get(f"{sim.base_url}/aci/sessions")).json()
        missing = await raw.get(f"{sim.base_url}/aci/sessions/{'0' * 64}")
    assert hashlib.sha256(session.content).hexdigest() == session_id
    document = session.json()
    assert aci_crypto.session_id(document) == session_id
    data = base64.b64decode(document["evidence"]["data"].split(",", 1)[1])
    assert aci_crypto.body_hash(data) == document["evidence"]["digest"]
    assert listing["sessions"][0]["session_id"] == session_id
    assert "data" not in listing["sessions"][0]["evidence"]
    event = next(e for e in unverified["event_log"] if e["type"] == "upstream.verified")
    assert event["result"] == "failed"
    assert event["required"] is False
    assert "session_id" not in event
    assert missing.status_code == 404


async def test_every_response_carries_the_keyset_digest_and_rotation_changes_it() -> None:
    async with running_simulator("redpill") as sim, httpx.AsyncClient() as raw:
        before = await raw.get(f"{sim.base_url}/models")
        error = await raw.post(f"{sim.base_url}/chat/completions", content=REQUEST)
        unknown_route = await raw.get(f"{sim.base_url}/nothing-here")
        rotated = await sim.control.rotate_keyset()
        after = await raw.get(f"{sim.base_url}/models")
        report = (await raw.get(f"{sim.base_url}/aci/attestation")).json()
    digest = before.headers["x-aci-keyset-digest"]
    assert before.headers["x-aci-version"] == "aci/1"
    assert error.status_code == 401
    assert error.headers["x-aci-keyset-digest"] == digest
    assert unknown_route.status_code == 404
    assert unknown_route.headers["x-aci-keyset-digest"] == digest
    assert rotated["workload_keyset_digest"] != digest
    assert after.headers["x-aci-keyset-digest"] == rotated["workload_keyset_digest"]
    assert report["workload_keyset_digest"] == rotated["workload_keyset_digest"]
    assert (
        report["attestation"]["workload_keyset"]["receipt_signing_keys"][0]["key_id"] == "receipt-2"
    )


async def test_an_expired_keyset_is_served_as_such() -> None:
    async with (
        running_simulator("redpill", keyset_ttl_seconds=-60) as sim,
        httpx.AsyncClient() as raw,
    ):
        report = (await raw.get(f"{sim.base_url}/aci/attestation")).json()
    assert report["attestation"]["workload_keyset"]["not_after"] < time.time()


async def test_receipts_belong_to_the_key_that_asked() -> None:
    async with running_simulator("redpill") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        receipt_id = (await raw.post(f"{sim.base_url}/chat/completions", content=REQUEST)).headers[
            "x-receipt-id"
        ]
        async with httpx.AsyncClient() as nobody:
            anonymous = await nobody.get(f"{sim.base_url}/aci/receipts/{receipt_id}")
        other = await raw.get(
            f"{sim.base_url}/aci/receipts/{receipt_id}", headers={"Authorization": "Bearer x"}
        )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "unauthorized"
    assert other.status_code == 404
    assert other.json()["error"]["type"] == "not_found"
