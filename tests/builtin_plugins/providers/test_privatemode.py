"""The Privatemode adapter against the simulated proxy: discovery, exact bytes, every fault."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from support.providers import Connect, Gateway, call_for, chat_call, collect, model

from builtin_plugins.providers.upstream_errors import CREDENTIALS_MESSAGE
from builtin_plugins.simulators.testing import running_simulator
from kernel.errors import UpstreamError
from kernel.upstream import ModelInfo, UpstreamCall

GEN = "gpt-oss-120b"
GEN_INFO = ModelInfo(id=GEN, provider="privatemode", upstream_id=GEN, region="eu")


async def test_discovery_reads_tasks_and_folds_full_ids(privatemode: Connect) -> None:
    async with privatemode() as (provider, _sim):
        models = {m.id: m for m in await provider.list_models()}
        aliases = dict(provider.aliases)
        assert provider.healthy
        assert await provider.list_models() is await provider.list_models()
    assert set(models) == {
        "gpt-oss-120b",
        "openai/gpt-oss-120b",
        "gemma-3-27b",
        "leon-se/gemma-3-27b-it-fp8-dynamic",
        "qwen3-embedding-4b",
    }
    assert models["gemma-3-27b"].tasks == {"generate", "tool_calling", "vision"}
    assert models["qwen3-embedding-4b"].tasks == {"embed"}
    assert models["openai/gpt-oss-120b"].upstream_id == "gpt-oss-120b"
    assert aliases == {
        "openai/gpt-oss-120b": "gpt-oss-120b",
        "leon-se/gemma-3-27b-it-fp8-dynamic": "gemma-3-27b",
    }
    for entry in models.values():
        assert (entry.provider, entry.region, entry.confidential) == ("privatemode", "eu", True)


async def test_allowlist_and_aliases(privatemode: Connect) -> None:
    async with privatemode(
        MODEL_ALLOWLIST="openai/gpt-oss-120b,qwen3-embedding-4b",
        ALIASES='{"fast": "openai/gpt-oss-120b", "seeing": "gemma-3-27b"}',
    ) as (provider, _sim):
        models = {m.id: m.upstream_id for m in await provider.list_models()}
    assert models == {
        "gpt-oss-120b": "gpt-oss-120b",
        "openai/gpt-oss-120b": "gpt-oss-120b",
        "fast": "gpt-oss-120b",
        "qwen3-embedding-4b": "qwen3-embedding-4b",
    }


async def test_discovery_failure_turns_unhealthy_keeps_the_list_and_recovers(
    privatemode: Connect,
) -> None:
    async with privatemode() as (provider, sim):
        before = await provider.list_models()
        for fault in ({"status": 503}, {"malformed": True}, {"reset": True}):
            await sim.control.set_faults(paths=("/v1/models",), **fault)
            await provider.refresh()
            assert not provider.healthy, fault
            assert await provider.list_models() is before
        await sim.control.clear_faults()
        await provider.refresh()
        assert provider.healthy
        assert await provider.list_models() is before


async def test_send_forwards_and_returns_exact_bytes(privatemode: Connect) -> None:
    async with privatemode() as (provider, sim):
        call = chat_call(await model(provider, "openai/gpt-oss-120b"))
        result = await provider.send(call)
        received = (await sim.control.requests("/v1/chat"))[-1]
    assert result.status == 200
    assert json.loads(result.body)["object"] == "chat.completion"
    assert (result.content_type, result.evidence) == ("application/json", {})
    assert received.body_sha256 == hashlib.sha256(call.body).hexdigest()
    assert (received.model, received.headers["content-type"]) == (GEN, "application/json")


async def test_embeddings(privatemode: Connect) -> None:
    async with privatemode() as (provider, _sim):
        info = await model(provider, "qwen3-embedding-4b")
        body = b'{"model":"qwen3-embedding-4b","input":["a","b"],"dimensions":8}'
        result = await provider.send(call_for(info, body, endpoint="/embeddings"))
    assert [len(d["embedding"]) for d in json.loads(result.body)["data"]] == [8, 8]


async def test_stream_yields_the_sse_bytes_as_received(privatemode: Connect) -> None:
    async with privatemode() as (provider, sim):
        call = chat_call(await model(provider, GEN), stream=True)
        chunks: list[bytes] = []
        await collect(provider, call, chunks)
        received = (await sim.control.requests("/v1/chat"))[-1]
    raw = b"".join(chunks)
    assert raw.startswith(b"data: {")
    assert raw.endswith(b"data: [DONE]\n\n")
    frames = [f for f in raw.split(b"\n\n") if f and f != b"data: [DONE]"]
    assert all(json.loads(f[6:])["object"] == "chat.completion.chunk" for f in frames)
    assert received.body_sha256 == hashlib.sha256(call.body).hexdigest()
    assert received.headers["accept"] == "text/event-stream"


FAULTS = [
    ({"status": 503}, "provider answered HTTP 503", 503, None),
    ({"status": 502}, "provider answered HTTP 502", 502, None),
    ({"status": 429, "retry_after": 7}, "rate limited by the provider (HTTP 429)", 429, 7.0),
    ({"reset": True}, "the connection failed", None, None),
    ({"stall_after": 0}, "no answer within read_timeout (1s)", None, None),
]


@pytest.mark.parametrize(("fault", "message", "status", "retry_after"), FAULTS)
@pytest.mark.parametrize("stream", [False, True])
async def test_faults_before_any_byte_are_retryable(
    privatemode: Connect,
    stream: bool,
    fault: dict[str, Any],
    message: str,
    status: int | None,
    retry_after: float | None,
) -> None:
    if stream and "stall_after" in fault:
        message = "no first byte within first_byte_timeout (1s)"
    chunks: list[bytes] = []
    async with privatemode() as (provider, sim):
        await sim.control.set_faults(paths=("/v1/chat",), **fault)
        with pytest.raises(UpstreamError) as caught:
            await _call(provider, chat_call(GEN_INFO, stream=stream), chunks)
    error = caught.value
    assert (error.message, error.upstream_status, error.retry_after) == (
        message,
        status,
        retry_after,
    )
    assert (error.retryable, error.provider, chunks) == (True, "privatemode", [])


async def test_malformed_json_in_a_200_is_retryable(privatemode: Connect) -> None:
    async with privatemode() as (provider, sim):
        await sim.control.set_faults(malformed=True, paths=("/v1/chat",))
        with pytest.raises(UpstreamError) as caught:
            await provider.send(chat_call(GEN_INFO))
    assert caught.value.retryable
    assert (caught.value.message, caught.value.upstream_status) == (
        "malformed JSON in an HTTP 200 answer",
        200,
    )


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"stall_after": 2}, r"^no stream data for idle_chunk_timeout \(0.5s\)$"),
        ({"break_after": 2}, "^(the answer was cut off|the connection failed)$"),
    ],
)
async def test_mid_stream_failures_raise_after_the_bytes_already_yielded(
    privatemode: Connect, fault: dict[str, Any], message: str
) -> None:
    chunks: list[bytes] = []
    async with privatemode() as (provider, sim):
        await sim.control.set_faults(paths=("/v1/chat",), **fault)
        with pytest.raises(UpstreamError, match=message):
            await collect(provider, chat_call(GEN_INFO, stream=True), chunks)
    assert b"".join(chunks).count(b"data: {") == 2
    assert b"[DONE]" not in b"".join(chunks)


@pytest.mark.parametrize(
    ("key", "status"),
    [("wrong", 401), ("", 500)],
    ids=["401 trying API key", "500 creating request cipher"],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_gateway_credential_problems_are_retryable_and_named(
    privatemode: Connect, key: str, status: int, stream: bool
) -> None:
    async with privatemode(API_KEY=key) as (provider, _sim):
        with pytest.raises(UpstreamError) as caught:
            await _call(provider, chat_call(GEN_INFO, stream=stream), [])
    assert (caught.value.message, caught.value.upstream_status) == (CREDENTIALS_MESSAGE, status)
    assert caught.value.retryable


@pytest.mark.parametrize(
    "message",
    [
        None,
        "creating request cipher: get latest secret: setting secrets: dial tcp: i/o timeout",
    ],
    ids=["simulator default 500", "secret service unreachable"],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_other_cipher_failures_are_server_errors_not_credentials(
    privatemode: Connect, message: str | None, stream: bool
) -> None:
    async with privatemode() as (provider, sim):
        await sim.control.set_faults(status=500, message=message, paths=("/v1/chat",))
        with pytest.raises(UpstreamError) as caught:
            await _call(provider, chat_call(GEN_INFO, stream=stream), [])
    assert (caught.value.message, caught.value.upstream_status) == (
        "provider answered HTTP 500",
        500,
    )
    assert caught.value.retryable


@pytest.mark.parametrize(
    "message",
    [
        "creating request cipher: get latest secret: don't have an API key yet",
        "creating request cipher: get latest secret: setting secrets: 401 Unauthorized",
    ],
    ids=["no key yet", "secret service refused the key"],
)
async def test_cipher_failures_naming_the_key_are_credential_problems(
    privatemode: Connect, message: str
) -> None:
    async with privatemode() as (provider, sim):
        await sim.control.set_faults(status=500, message=message, paths=("/v1/chat",))
        with pytest.raises(UpstreamError) as caught:
            await provider.send(chat_call(GEN_INFO))
    assert (caught.value.message, caught.value.upstream_status) == (CREDENTIALS_MESSAGE, 500)


async def test_client_errors_come_back_in_openai_shape(privatemode: Connect) -> None:
    async with privatemode() as (provider, sim):
        unknown = await provider.send(chat_call(GEN_INFO, body=b'{"model":"no","messages":[]}'))
        await sim.control.set_faults(status=400, message="bad things", paths=("/v1/chat",))
        refused = await provider.send(chat_call(GEN_INFO))
        with pytest.raises(UpstreamError) as streamed:
            await collect(provider, chat_call(GEN_INFO, stream=True), [])
    error = json.loads(unknown.body)["error"]
    assert (unknown.status, error["code"], error["type"]) == (
        404,
        "model_not_found",
        "invalid_request_error",
    )
    assert refused.status == 400
    assert json.loads(refused.body) == {
        "error": {
            "message": "bad things",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert (streamed.value.message, streamed.value.upstream_status) == ("bad things", 400)
    assert not streamed.value.retryable


async def test_unreachable_proxy_is_unhealthy_and_a_retryable_connect_error(
    gateway: Gateway,
) -> None:
    async with running_simulator("privatemode") as sim:
        url = sim.base_url
    env = {"ENCLAVA_PRIVATEMODE_ENABLED": "true", "ENCLAVA_PRIVATEMODE_URL": url}
    async with gateway(**env) as kernel:
        (provider,) = kernel.components.providers
        await provider.refresh()  # type: ignore[attr-defined]
        assert not provider.healthy
        for stream in (False, True):
            with pytest.raises(UpstreamError, match="could not connect") as caught:
                await _call(provider, chat_call(GEN_INFO, stream=stream), [])
            assert caught.value.retryable


async def _call(provider: Any, call: UpstreamCall, chunks: list[bytes]) -> None:
    if call.stream:
        await collect(provider, call, chunks)
    else:
        await provider.send(call)
