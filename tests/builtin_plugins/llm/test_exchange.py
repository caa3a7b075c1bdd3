"""The exchange seam through the real app: guards, chat filters and per-response verification."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import msgspec
import openai
import pytest
from support.gateway import REDPILL_ONLY, Env, Gateway

from builtin_plugins.audit.filters import AuditFilter
from builtin_plugins.audit.store import AuditStore
from kernel.errors import InsufficientQuotaError
from kernel.exchange import Exchange
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import Principal
from kernel.upstream import AttestationStatus, ModelInfo, ResponseEvidence, ResponsePolicy

CHAT = [{"role": "user", "content": "Tell me something confidential"}]
PRIVATEMODE_ONLY = "gemma-3-27b"


class RecordingGuard:
    name = "recorder"
    order = 10

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.admitted: list[str] = []
        self.finished: list[Exchange] = []

    async def admit(self, exchange: Exchange) -> None:
        if self.refuse:
            raise InsufficientQuotaError("Budget exhausted.")
        self.admitted.append(exchange.request_id)

    async def finish(self, exchange: Exchange) -> None:
        self.finished.append(msgspec.structs.replace(exchange))


class UpperFilter:
    name = "upper"
    order = 1

    def __init__(self, *, fail: bool = False, fail_open: bool = False) -> None:
        self.fail = fail
        self.fail_open = fail_open
        self.seen: list[str] = []

    async def on_request(self, exchange: Exchange, request: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("boom")
        for message in request["messages"]:
            message["content"] = str(message["content"]).upper()
        return request

    async def on_response(self, exchange: Exchange, response: dict[str, Any]) -> dict[str, Any]:
        response["choices"][0]["message"]["content"] = "[filtered]"
        return response


class ScriptedVerifier:
    provider_kind = "redpill"

    def __init__(self, policy: ResponsePolicy, valid: bool) -> None:
        self.policy = policy
        self.valid = valid
        self.evidence: list[ResponseEvidence] = []

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        return AttestationStatus(valid=True, label="verified")

    def response_policy(self, principal: Principal | None) -> ResponsePolicy:
        return self.policy

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        self.evidence.append(evidence)
        return AttestationStatus(valid=self.valid, label="verified", reason="signature mismatch")


class Components:
    PLUGIN_NAME = "exchange_test"

    def __init__(self, *, guard: Any = None, filters: Any = (), verifier: Any = None) -> None:
        self.guard, self.filters, self.verifier = guard, list(filters), verifier

    @hookimpl
    def enclava_exchange_guards(self, kernel: Kernel) -> list[Any]:
        return [self.guard] if self.guard else []

    @hookimpl
    def enclava_chat_filters(self, kernel: Kernel) -> list[Any]:
        return self.filters

    @hookimpl
    def enclava_attestation_verifiers(self, kernel: Kernel) -> list[Any]:
        return [self.verifier] if self.verifier else []


async def _settled(guard: RecordingGuard, count: int) -> None:
    for _ in range(200):
        if len(guard.finished) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"expected {count} finished exchanges, got {len(guard.finished)}")


async def test_guard_sees_every_kind_of_exchange_end_once(gateway: Gateway) -> None:
    guard = RecordingGuard()
    async with gateway(extra=[Components(guard=guard)]) as env:
        client = env.client()
        await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        stream = await client.chat.completions.create(
            model=PRIVATEMODE_ONLY, messages=CHAT, stream=True
        )
        async for _ in stream:
            pass
        await client.embeddings.create(model="qwen3-embedding-4b", input="hi")
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="no-such-model", messages=CHAT)
        await _settled(guard, 4)
    chat, streamed, embedded, missing = guard.finished
    assert chat.kind == "chat"
    assert chat.status == 200
    assert chat.provider == "privatemode"
    assert chat.usage is not None
    assert chat.usage.total_tokens > 0
    assert chat.first_token is not None
    assert chat.ended is not None
    assert streamed.stream
    assert streamed.usage is not None
    assert streamed.error_code is None
    assert embedded.kind == "embeddings"
    assert embedded.usage is not None
    assert missing.status == 404
    assert missing.error_code == "model_not_found"
    assert len(guard.admitted) == 4


async def test_refusing_guard_forwards_nothing(gateway: Gateway) -> None:
    guard = RecordingGuard(refuse=True)
    async with gateway(extra=[Components(guard=guard)]) as env:
        with pytest.raises(openai.APIStatusError) as caught:
            await env.client().chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        assert caught.value.status_code == 402
        assert caught.value.code == "insufficient_quota"
        assert not await env.privatemode.control.requests("/v1/chat/completions")


async def test_cut_stream_finishes_with_an_error_code(gateway: Gateway) -> None:
    guard = RecordingGuard()
    async with gateway(extra=[Components(guard=guard)]) as env:
        await env.privatemode.control.set_faults(break_after=2)
        stream = await env.client().chat.completions.create(
            model=PRIVATEMODE_ONLY, messages=CHAT, stream=True
        )
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
        await _settled(guard, 1)
    assert guard.finished[0].error_code is not None


async def test_filters_rewrite_request_and_answer(gateway: Gateway) -> None:
    chat_filter, guard = UpperFilter(), RecordingGuard()
    async with gateway(extra=[Components(guard=guard, filters=[chat_filter])]) as env:
        answer = await env.client().chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        assert answer.choices[0].message.content == "[filtered]"
        (sent,) = await env.privatemode.control.requests("/v1/chat/completions")
        await _settled(guard, 1)
    forwarded = guard.finished[0].body
    assert b"TELL ME SOMETHING CONFIDENTIAL" in forwarded
    assert sent.body_sha256 == hashlib.sha256(forwarded).hexdigest()


@pytest.mark.parametrize("fail_open", [False, True])
async def test_failing_filter_fails_closed_unless_fail_open(
    gateway: Gateway, fail_open: bool
) -> None:
    chat_filter = UpperFilter(fail=True, fail_open=fail_open)
    async with gateway(extra=[Components(filters=[chat_filter])]) as env:
        client = env.client()
        if fail_open:
            await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
            return
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        assert caught.value.code == "chat_filter_failed"
        assert "`upper`" in caught.value.message
        assert not await env.privatemode.control.requests("/v1/chat/completions")


async def _redpill_env(gateway: Gateway, verifier: ScriptedVerifier) -> Any:
    return gateway(trust=False, extra=[Components(verifier=verifier)])


async def test_strict_verification_withholds_a_rejected_answer_and_trips(
    gateway: Gateway,
) -> None:
    verifier = ScriptedVerifier("strict", valid=False)
    async with await _redpill_env(gateway, verifier) as env:
        client = env.client()
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model=REDPILL_ONLY, messages=CHAT)
        assert caught.value.status_code == 502
        assert caught.value.code == "response_verification_failed"
        (evidence,) = verifier.evidence
        assert evidence.request_body
        assert b'"id"' in evidence.response_body
        with pytest.raises(openai.APIStatusError) as paused:
            await client.chat.completions.create(model=REDPILL_ONLY, messages=CHAT)
        assert paused.value.status_code == 503
        assert "circuit open" in paused.value.message
        assert await _audited(env, "attestation.response_rejected")


async def _audited(env: Env, action: str) -> bool:
    store = AuditStore(env.kernel.stores.db)
    page = await store.page(AuditFilter(action=action), limit=10, offset=0, before_id=None)
    return bool(page.data)


async def test_strict_trailer_stream_replaces_done_with_an_error(gateway: Gateway) -> None:
    verifier = ScriptedVerifier("strict_trailer", valid=False)
    async with await _redpill_env(gateway, verifier) as env:
        stream = await env.client().chat.completions.create(
            model=REDPILL_ONLY, messages=CHAT, stream=True
        )
        with pytest.raises(openai.APIError) as caught:
            async for _ in stream:
                pass
        assert "failed verification" in str(caught.value)
        (evidence,) = verifier.evidence
        assert evidence.stream
        assert evidence.response_body.rstrip().endswith(b"data: [DONE]")


async def test_strict_stream_is_refused_before_any_frame(gateway: Gateway) -> None:
    verifier = ScriptedVerifier("strict", valid=False)
    async with await _redpill_env(gateway, verifier) as env:
        with pytest.raises(openai.APIStatusError) as caught:
            await env.client().chat.completions.create(
                model=REDPILL_ONLY, messages=CHAT, stream=True
            )
        assert caught.value.status_code == 502
        assert caught.value.code == "response_verification_failed"
        (evidence,) = verifier.evidence
        assert evidence.stream
        assert evidence.response_body.rstrip().endswith(b"data: [DONE]")


@pytest.mark.parametrize("stream", [False, True])
async def test_async_verification_answers_first(gateway: Gateway, stream: bool) -> None:
    verifier = ScriptedVerifier("async", valid=True)
    async with await _redpill_env(gateway, verifier) as env:
        raw = await env.client().chat.completions.with_raw_response.create(
            model=REDPILL_ONLY, messages=CHAT, stream=stream
        )
        assert raw.headers["x-enclava-attestation"] == "verified; response=async"
        if stream:
            async for _ in raw.parse():  # type: ignore[attr-defined]
                pass
        for _ in range(200):
            if verifier.evidence:
                break
            await asyncio.sleep(0.01)
        assert len(verifier.evidence) == 1


async def test_strict_verified_answer_says_so(gateway: Gateway) -> None:
    verifier = ScriptedVerifier("strict", valid=True)
    async with await _redpill_env(gateway, verifier) as env:
        raw = await env.client().chat.completions.with_raw_response.create(
            model=REDPILL_ONLY, messages=CHAT
        )
        assert raw.headers["x-enclava-attestation"] == "verified; response=verified"
