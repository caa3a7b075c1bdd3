"""The RedPill adapter against its simulator: TEE-only discovery, evidence, exact bytes, faults."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from support.providers import Connect, call_for, chat_call, collect, model

from builtin_plugins.providers.redpill import with_aci_verified
from builtin_plugins.providers.upstream_errors import CREDENTIALS_MESSAGE
from builtin_plugins.simulators.keys import TEST_API_KEY
from builtin_plugins.simulators.testing import SimulatorHandle
from kernel.errors import UpstreamError
from kernel.upstream import HttpUpstream, ModelInfo

QWEN = "phala/qwen-2.5-7b-instruct"
QWEN_INFO = ModelInfo(id=QWEN, provider="redpill", upstream_id=QWEN, region="us")
CONFIDENTIAL = {
    QWEN,
    "phala/gpt-oss-120b",
    "qwen/qwen3-embedding-8b",
    "nearai/deepseek-v3.1",
    "tinfoil/llama3-3-70b",
    "moonshotai/kimi-k2.5",
}
"""TEE models of Phala, NEAR AI, Tinfoil and Chutes; whether each is offered is attestation's."""


async def signed_text(sim: SimulatorHandle, chat_id: str) -> str:
    """What the simulated TEE signed for ``chat_id``: ``sha256(request):sha256(response)``."""
    async with httpx.AsyncClient(base_url=sim.base_url) as client:
        response = await client.get(
            f"/signature/{chat_id}", headers={"Authorization": f"Bearer {TEST_API_KEY}"}
        )
    response.raise_for_status()
    return str(response.json()["text"])


async def test_only_tee_models_of_confidential_upstreams_are_discovered(
    redpill: Connect,
) -> None:
    async with redpill() as (provider, _sim):
        models = {m.id: m for m in await provider.list_models()}
        assert provider.healthy
    assert set(models) == CONFIDENTIAL
    assert models[QWEN].tasks == {"generate", "tool_calling"}
    assert models["qwen/qwen3-embedding-8b"].tasks == {"embed"}
    assert models["phala/gpt-oss-120b"].context_length == 131072
    for entry in models.values():
        assert (entry.upstream_id, entry.provider, entry.region) == (entry.id, "redpill", "us")
        assert entry.confidential


async def test_the_provider_says_where_attestation_finds_its_evidence(redpill: Connect) -> None:
    async with redpill() as (provider, sim):
        assert isinstance(provider, HttpUpstream)
        assert (provider.base_url, provider.api_key) == (sim.base_url, TEST_API_KEY)


async def test_allowlist_intersects_and_never_admits_non_tee_models(redpill: Connect) -> None:
    async with redpill(
        MODEL_ALLOWLIST=f"{QWEN},openai/gpt-4o,moonshotai/kimi-k2.5",
        ALIASES=json.dumps({"qwen": QWEN, "gpt4": "openai/gpt-4o"}),
    ) as (provider, _sim):
        models = {m.id: m.upstream_id for m in await provider.list_models()}
    assert models == {QWEN: QWEN, "qwen": QWEN, "moonshotai/kimi-k2.5": "moonshotai/kimi-k2.5"}


async def test_a_missing_embedding_catalog_is_tolerated_other_failures_are_not(
    redpill: Connect,
) -> None:
    async with redpill() as (provider, sim):
        await sim.control.set_faults(status=404, paths=("/v1/embeddings/models",))
        await provider.refresh()
        assert provider.healthy
        assert {m.id for m in await provider.list_models()} == CONFIDENTIAL - {
            "qwen/qwen3-embedding-8b"
        }
        await sim.control.set_faults(status=500, paths=("/v1/embeddings/models",))
        await provider.refresh()
        assert not provider.healthy


async def test_send_returns_evidence_over_the_exact_bytes(redpill: Connect) -> None:
    async with redpill() as (provider, sim):
        call = chat_call(await model(provider, QWEN))
        result = await provider.send(call)
        received = (await sim.control.requests("/v1/chat"))[-1]
        evidence = result.evidence
        signed = await signed_text(sim, evidence["chat_id"])
    assert evidence["chat_id"] == json.loads(result.body)["id"]
    assert evidence["receipt_id"].startswith("rcpt-")
    sent = b'{"provider":{"aci_verified":true},' + call.body.removeprefix(b"{")
    assert (evidence["request_body"], evidence["response_body"]) == (sent, result.body)
    assert call.evidence["sent_body"] == sent
    assert evidence["request_sha256"] == hashlib.sha256(sent).hexdigest()
    assert evidence["response_sha256"] == hashlib.sha256(result.body).hexdigest()
    assert received.body_sha256 == evidence["request_sha256"]
    assert signed == f"{evidence['request_sha256']}:{evidence['response_sha256']}"


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        (b'{"model": "m"}', b'{"provider":{"aci_verified":true},"model": "m"}'),
        (b"{}", b'{"provider":{"aci_verified":true}}'),
        (b'{"provider": {"aci_verified": true}}', b'{"provider": {"aci_verified": true}}'),
        (b'{"provider": {"sort": "price"}}', b'{"provider":{"sort":"price","aci_verified":true}}'),
        (b'{"provider": {"aci_verified": false}}', b'{"provider":{"aci_verified":true}}'),
    ],
)
def test_every_body_requires_a_verified_upstream(body: bytes, sent: bytes) -> None:
    assert with_aci_verified(body) == sent


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unattested_upstream_is_refused_before_the_prompt_leaves(
    redpill: Connect, stream: bool
) -> None:
    async with redpill() as (provider, sim):
        await sim.control.set_upstream_attested(QWEN, False)
        call = chat_call(await model(provider, QWEN), stream=stream)
        refused = collect(provider, call, []) if stream else provider.send(call)
        with pytest.raises(UpstreamError) as caught:
            await refused
        assert caught.value.upstream_status == 503
        await sim.control.set_upstream_attested(QWEN, True)
        assert (await provider.send(chat_call(await model(provider, QWEN)))).status == 200


async def test_embeddings_carry_a_receipt_but_no_chat_id(redpill: Connect) -> None:
    async with redpill() as (provider, _sim):
        info = await model(provider, "qwen/qwen3-embedding-8b")
        body = b'{"input": "hello", "model": "qwen/qwen3-embedding-8b"}'
        result = await provider.send(call_for(info, body, endpoint="/embeddings"))
    assert json.loads(result.body)["object"] == "list"
    assert result.evidence["chat_id"] is None
    assert result.evidence["receipt_id"].startswith("rcpt-")


async def test_stream_bytes_are_the_bytes_redpill_signed(redpill: Connect) -> None:
    chunks: list[bytes] = []
    async with redpill() as (provider, sim):
        call = chat_call(await model(provider, QWEN), stream=True)
        await collect(provider, call, chunks)
        raw = b"".join(chunks)
        chat_id = json.loads(raw.split(b"\n\n")[0][6:])["id"]
        signed = await signed_text(sim, chat_id)
    assert raw.endswith(b"data: [DONE]\n\n")
    sent = hashlib.sha256(call.evidence["sent_body"]).hexdigest()
    returned = hashlib.sha256(raw).hexdigest()
    assert signed == f"{sent}:{returned}"


async def test_in_band_error_mid_stream_raises_after_the_yielded_frames(redpill: Connect) -> None:
    chunks: list[bytes] = []
    async with redpill() as (provider, sim):
        await sim.control.set_faults(break_after=3, paths=("/v1/chat",))
        with pytest.raises(UpstreamError, match="reported an error mid-stream") as caught:
            await collect(provider, chat_call(QWEN_INFO, stream=True), chunks)
    raw = b"".join(chunks)
    assert raw.count(b"data: {") == 3
    assert b'"error"' not in raw
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("fault", "message", "status", "retry_after"),
    [
        ({"status": 429, "retry_after": 3}, "rate limited by the provider (HTTP 429)", 429, 3.0),
        ({"status": 503}, "provider answered HTTP 503", 503, None),
        ({"status": 504}, "provider answered HTTP 504", 504, None),
        ({"status": 401}, CREDENTIALS_MESSAGE, 401, None),
        ({"status": 402}, "provider refused the gateway's account (HTTP 402)", 402, None),
        ({"reset": True}, "the connection failed", None, None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_faults_map_to_retryable_errors(
    redpill: Connect,
    stream: bool,
    fault: dict[str, Any],
    message: str,
    status: int | None,
    retry_after: float | None,
) -> None:
    chunks: list[bytes] = []
    async with redpill() as (provider, sim):
        await sim.control.set_faults(paths=("/v1/chat",), **fault)
        call = chat_call(QWEN_INFO, stream=stream)
        with pytest.raises(UpstreamError) as caught:
            await (collect(provider, call, chunks) if stream else provider.send(call))
    error = caught.value
    assert (error.message, error.upstream_status, error.retry_after) == (
        message,
        status,
        retry_after,
    )
    assert (error.retryable, error.provider, chunks) == (True, "redpill", [])


async def test_wrong_gateway_key_never_looks_like_the_clients_fault(redpill: Connect) -> None:
    async with redpill(API_KEY="sk-wrong") as (provider, _sim):
        assert provider.healthy
        with pytest.raises(UpstreamError) as caught:
            await provider.send(chat_call(QWEN_INFO))
    assert (caught.value.message, caught.value.upstream_status) == (CREDENTIALS_MESSAGE, 401)
    assert caught.value.retryable


async def test_malformed_json_in_a_200_is_retryable(redpill: Connect) -> None:
    async with redpill() as (provider, sim):
        await sim.control.set_faults(malformed=True, paths=("/v1/chat",))
        with pytest.raises(UpstreamError, match="malformed JSON") as caught:
            await provider.send(chat_call(QWEN_INFO))
    assert caught.value.retryable


async def test_client_errors_are_normalised_to_openai_shape(redpill: Connect) -> None:
    async with redpill() as (provider, sim):
        unknown = await provider.send(chat_call(QWEN_INFO, body=b'{"model":"nope","messages":[]}'))
        bad = await provider.send(chat_call(QWEN_INFO, body=b'{"model":"%s"}' % QWEN.encode()))
        await sim.control.set_faults(status=404, paths=("/v1/chat",))
        with pytest.raises(UpstreamError) as streamed:
            await collect(provider, chat_call(QWEN_INFO, stream=True), [])
    assert unknown.status == 404
    assert json.loads(unknown.body) == {
        "error": {
            "message": "no route available for model nope",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    assert bad.status == 400
    assert json.loads(bad.body)["error"]["type"] == "invalid_request_error"
    assert (streamed.value.upstream_status, streamed.value.retryable) == (404, False)
