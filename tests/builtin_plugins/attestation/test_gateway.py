"""Attestation through the real app, against the RedPill simulator under its test root."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest
from support.gateway import REDPILL_ONLY, Env

from builtin_plugins.attestation.service import service_of
from builtin_plugins.simulators.keys import LEGACY_SIGNING_ADDRESS
from kernel.upstream import ModelInfo

from .conftest import Attested, admin, attestable, redpill_statuses, statuses, until_attested

MESSAGES = [{"role": "user", "content": "hello"}]
TAMPER = {"tamper": True, "paths": ("/v1/chat/completions",)}
STRICT = {"ENCLAVA_ATTESTATION_RESPONSE_POLICY": "strict"}
ACI = {"ENCLAVA_ATTESTATION_REDPILL_SCHEME": "aci"}


async def _chat(env: Env) -> Any:
    async with env.client() as client:
        return await client.chat.completions.with_raw_response.create(
            model=REDPILL_ONLY, messages=MESSAGES
        )


async def _stream_text(env: Env) -> str:
    async with env.client() as client:
        stream = await client.chat.completions.create(
            model=REDPILL_ONLY, messages=MESSAGES, stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def _paused_now(env: Env) -> bool:
    try:
        await _chat(env)
    except openai.APIStatusError as exc:
        return exc.status_code == 503
    return False


async def _paused(env: Env) -> str:
    """The 503 message for the RedPill-only model once its provider is paused."""
    with pytest.raises(openai.APIStatusError) as caught:
        await _chat(env)
    assert caught.value.status_code == 503
    return str(caught.value.message)


@pytest.mark.parametrize("scheme", ["legacy", "aci"])
async def test_strict_answers_are_verified_and_labelled(
    attested_gateway: Attested, scheme: str
) -> None:
    async with attested_gateway(**STRICT, ENCLAVA_ATTESTATION_REDPILL_SCHEME=scheme) as env:
        raw = await _chat(env)
        assert raw.headers["x-enclava-provider"] == "redpill"
        assert raw.headers["x-enclava-attestation"] == "simulated; response=verified"
        assert await _stream_text(env)
        status = (await redpill_statuses(env))[0]
        assert (status["label"], status["scheme"], status["tcb_status"]) == (
            "simulated",
            scheme,
            "UpToDate",
        )
        assert status["gpu_checked"] is False
        expected = LEGACY_SIGNING_ADDRESS if scheme == "legacy" else "sha256:"
        assert status["signing_key"].startswith(expected)


@pytest.mark.parametrize("scheme", ["legacy", "aci"])
async def test_a_tampered_answer_is_withheld_and_the_provider_tripped(
    attested_gateway: Attested, scheme: str
) -> None:
    async with attested_gateway(**STRICT, ENCLAVA_ATTESTATION_REDPILL_SCHEME=scheme) as env:
        await env.redpill.control.set_faults(**TAMPER)
        with pytest.raises(openai.APIStatusError) as caught:
            await _chat(env)
        assert caught.value.status_code == 502
        assert "failed verification" in str(caught.value.message)
        assert caught.value.response.headers["x-ratelimit-limit"] == "1000"
        await env.redpill.control.clear_faults()
        assert "circuit open" in await _paused(env)
        history = await admin(env, "GET", "/attestation/history?provider=redpill")
        reasons = [e["reason"] for e in history.json()["data"]]
        assert any(r.startswith("response verification failed") for r in reasons)


async def _frames(env: Env, *, stream: bool) -> tuple[int, list[bytes]]:
    """The status and every SSE data frame (or the one JSON body) the client receives."""
    body = {"model": REDPILL_ONLY, "messages": MESSAGES, "stream": stream}
    headers = {"authorization": f"Bearer {env.key}"}
    async with (
        httpx.AsyncClient(base_url=env.base_url, timeout=20) as client,
        client.stream("POST", "/chat/completions", json=body, headers=headers) as response,
    ):
        raw = await response.aread()
    if not stream or not raw.startswith(b"data: "):
        return response.status_code, [raw]
    return response.status_code, [f for f in raw.split(b"\n\n") if f.startswith(b"data: ")]


def _content_frames(frames: list[bytes]) -> int:
    return sum(1 for f in frames if b'"choices"' in f and b'"content"' in f)


@pytest.mark.parametrize("scheme", ["legacy", "aci"])
@pytest.mark.parametrize("stream", [False, True])
async def test_strict_mode_sends_nothing_of_a_tampered_answer(
    attested_gateway: Attested, scheme: str, stream: bool
) -> None:
    async with attested_gateway(**STRICT, ENCLAVA_ATTESTATION_REDPILL_SCHEME=scheme) as env:
        await env.redpill.control.set_faults(**TAMPER)
        status, frames = await _frames(env, stream=stream)
        assert status == 502
        assert _content_frames(frames) == 0
        (error,) = frames
        assert b"response_verification_failed" in error
        assert not error.startswith(b"data: ")


async def test_strict_streams_are_released_whole_once_verified(attested_gateway: Attested) -> None:
    async with attested_gateway(**STRICT) as env:
        status, frames = await _frames(env, stream=True)
        assert status == 200
        assert _content_frames(frames) > 1
        assert frames[-1] == b"data: [DONE]"
        async with env.client() as client:
            raw = await client.chat.completions.with_raw_response.create(
                model=REDPILL_ONLY, messages=MESSAGES, stream=True
            )
        assert raw.headers["x-enclava-attestation"] == "simulated; response=verified"


@pytest.mark.parametrize("scheme", ["legacy", "aci"])
async def test_strict_trailer_lets_content_flow_and_withholds_done(
    attested_gateway: Attested, scheme: str
) -> None:
    policy = {"ENCLAVA_ATTESTATION_RESPONSE_POLICY": "strict_trailer"}
    async with attested_gateway(**policy, ENCLAVA_ATTESTATION_REDPILL_SCHEME=scheme) as env:
        status, frames = await _frames(env, stream=True)
        assert (status, frames[-1]) == (200, b"data: [DONE]")
        await env.redpill.control.set_faults(**TAMPER)
        status, frames = await _frames(env, stream=True)
        assert status == 200
        assert _content_frames(frames) > 0
        assert b"response_verification_failed" in frames[-1]
        assert b"data: [DONE]" not in frames
        with pytest.raises(openai.APIError):
            await _stream_text(env)


async def test_async_mode_answers_then_trips_the_provider(attested_gateway: Attested) -> None:
    async with attested_gateway(ENCLAVA_ATTESTATION_RESPONSE_POLICY="async") as env:
        await env.redpill.control.set_faults(**TAMPER)
        raw = await _chat(env)
        assert raw.headers["x-enclava-attestation"] == "simulated; response=async"
        await env.redpill.control.clear_faults()
        # The failed check first invalidates the model's attestation (503 "attestation not
        # valid" while its history row is written), then opens the provider's circuit.
        for _ in range(500):
            if await _paused_now(env) and "circuit open" in await _paused(env):
                break
            await asyncio.sleep(0.02)
        assert "circuit open" in await _paused(env)


async def test_a_key_tightens_the_deployment_policy_never_loosens_it(
    attested_gateway: Attested,
) -> None:
    async with attested_gateway(ENCLAVA_ATTESTATION_RESPONSE_POLICY="async") as env:
        strict_key = await env.new_key(response_verification="strict")
        async with env.client(strict_key) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model=REDPILL_ONLY, messages=MESSAGES
            )
        assert raw.headers["x-enclava-attestation"] == "simulated; response=verified"
        assert (await _chat(env)).headers["x-enclava-attestation"] == "simulated; response=async"
        with pytest.raises(AssertionError, match="response_verification"):
            await env.new_key(response_verification="off")
        trailer_key = await env.new_key(response_verification="strict_trailer")
        async with env.client(trailer_key) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model=REDPILL_ONLY, messages=MESSAGES, stream=True
            )
        assert raw.headers["x-enclava-attestation"] == "simulated; response=strict_trailer"
        await env.redpill.control.set_faults(**TAMPER)
        async with env.client(strict_key) as client:
            with pytest.raises(openai.APIStatusError) as caught:
                await client.chat.completions.create(model=REDPILL_ONLY, messages=MESSAGES)
        assert caught.value.status_code == 502
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(
            caught.value.response.headers
        )


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("wrong_nonce", "does not bind our nonce"),
        ("replay", "does not bind our nonce"),
        ("foreign_address", "does not bind the signing address"),
    ],
)
async def test_a_lying_report_makes_the_model_unroutable(
    attested_gateway: Attested, mode: str, reason: str
) -> None:
    async with attested_gateway() as env:
        await env.redpill.control.set_report_mode(mode)
        answer = await admin(env, "POST", "/attestation/reverify")
        assert answer.status_code == 200, answer.text
        entries = attestable(answer.json()["data"])
        assert entries
        assert all(reason in e["reason"] and not e["verified"] for e in entries)
        message = await _paused(env)
        assert "attestation not valid" in message
        assert reason in message


async def test_a_keyset_change_triggers_re_attestation(attested_gateway: Attested) -> None:
    async with attested_gateway(**STRICT, **ACI) as env:
        before = (await redpill_statuses(env))[0]["signing_key"]
        rotated = await env.redpill.control.rotate_keyset()
        raw = await _chat(env)
        assert raw.headers["x-enclava-attestation"] == "simulated; response=verified"
        statuses = await redpill_statuses(env)
        assert rotated["workload_keyset_digest"] in {s["signing_key"] for s in statuses}
        assert before != rotated["workload_keyset_digest"]


async def test_an_expired_keyset_is_refused(attested_gateway: Attested) -> None:
    async with attested_gateway(**STRICT, **ACI) as env:
        await env.redpill.control.rotate_keyset(not_after=1)
        with pytest.raises(openai.APIStatusError) as caught:
            await _chat(env)
        assert caught.value.status_code == 502
        await until_attested(env, valid=False)
        reasons = {s["reason"] for s in await redpill_statuses(env)}
        assert any("expired" in r for r in reasons)


async def _require_gpu(env: Env) -> None:
    await env.kernel.update_section(
        "attestation",
        {
            "require_gpu": True,
            "nras_url": f"{env.redpill.url}/nras/v3/attest/gpu",
            "nras_jwks_url": f"{env.redpill.url}/nras/.well-known/jwks.json",
        },
    )


async def test_gpu_evidence_is_checked_through_nras_when_required(
    attested_gateway: Attested,
) -> None:
    async with attested_gateway() as env:
        await _require_gpu(env)
        answer = await admin(env, "POST", "/attestation/reverify")
        entries = attestable(answer.json()["data"])
        assert entries
        assert all(e["verified"] and e["gpu_checked"] for e in entries)


async def test_a_gpu_verdict_signed_by_another_key_is_refused(attested_gateway: Attested) -> None:
    async with attested_gateway() as env:
        await _require_gpu(env)
        await env.redpill.control.set_nras(rogue_key=True)
        answer = await admin(env, "POST", "/attestation/reverify")
        entries = attestable(answer.json()["data"])
        assert entries
        assert all("NRAS token does not verify" in e["reason"] for e in entries)
        assert "NRAS token does not verify" in await _paused(env)


async def test_history_and_reverify_are_for_admins_only(attested_gateway: Attested) -> None:
    async with attested_gateway() as env:
        history = await admin(env, "GET", f"/attestation/history?limit=5&model={REDPILL_ONLY}")
        assert history.status_code == 200
        entries = history.json()["data"]
        assert entries
        assert {"checked_at", "provider", "model", "verdict", "tcb_status"} <= set(entries[0])
        assert entries[0]["verdict"] == "valid"


async def test_privatemode_is_reported_as_serving_and_nothing_more(
    attested_gateway: Attested,
) -> None:
    async with attested_gateway() as env:
        entries = [s for s in await statuses(env) if s["provider"] == "privatemode"]
        assert entries
        assert all(e["verified"] and e["label"] == "simulated" for e in entries)
        assert all(e["signing_key"] is None and e["tcb_status"] is None for e in entries)
        await env.privatemode.control.set_faults(status=500, paths=("/v1/models",))
        [provider] = [p for p in env.kernel.components.providers if p.name == "privatemode"]
        await provider.refresh()  # type: ignore[attr-defined]
        entries = [s for s in await statuses(env) if s["provider"] == "privatemode"]
        assert all(not e["verified"] and "not serving" in e["reason"] for e in entries)


async def test_verdicts_of_another_trust_anchor_are_never_reused(
    attested_gateway: Attested,
) -> None:
    async with attested_gateway() as env:
        service = service_of(env.kernel)
        simulated = service.trust()
        [verdict, *_] = [v for v in service.verdicts() if v.valid]
        model = ModelInfo(
            id=verdict.model, provider="redpill", upstream_id=verdict.model, region="us"
        )
        assert service.status("redpill", model).valid
        service.install_trust(None)
        service._verdicts[("redpill", verdict.model)] = verdict  # a late simulated result
        status = service.status("redpill", model)
        assert not status.valid
        assert (status.label, status.reason) == ("verified", "trust anchor changed")
        service.install_trust(simulated)
