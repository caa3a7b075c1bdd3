"""Traces of real chats through the HTTP app, the Privatemode simulator upstream (the
``traced`` fixture: support.tracing)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from support.logs import Boom, json_entries, json_log_lines
from support.tracing import Traced, TracedGateway, one_span, parent_of

from kernel.exchange import Exchange
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.tracing import NO_TRACER
from kernel.types import Principal
from kernel.upstream import AttestationStatus, ModelInfo, ResponseEvidence

MODEL = "gpt-oss-120b"


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
PROMPT = "traced-prompt-51c2 what is the secret plan"
CHAT = "/chat/completions"


class PassFilter:
    """A chat filter that leaves everything as it is (so the ``filters`` spans exist)."""

    name = "pass"
    order = 10
    fail_open = False

    async def on_request(self, exchange: Exchange, request: dict[str, Any]) -> None:
        return None

    async def on_response(self, exchange: Exchange, response: dict[str, Any]) -> None:
        return None


class StrictVerifier:
    """Verifies Privatemode answers before release (so ``attestation.verify`` runs)."""

    provider_kind = "privatemode"

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        return AttestationStatus(valid=True, label="simulated")

    def response_policy(self, principal: Principal | None) -> str:
        return "strict"

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        return AttestationStatus(valid=True, label="simulated")


class Steps:
    PLUGIN_NAME = "trace_steps"

    @hookimpl
    def enclava_chat_filters(self, kernel: Kernel) -> list[PassFilter]:
        return [PassFilter()]

    @hookimpl
    def enclava_attestation_verifiers(self, kernel: Kernel) -> list[StrictVerifier]:
        return [StrictVerifier()]


def _hex(value: int, digits: int) -> str:
    return f"{value:0{digits}x}"


def _chat(stream: bool = False) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "stream": stream}


async def _post_chat(env: Traced, body: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=20) as client:
        response = await client.post(
            env.base_url + CHAT,
            json=body,
            headers={"Authorization": f"Bearer {env.key}", **headers},
        )
    assert response.status_code == 200, response.text
    return response


def _assert_request_tree(spans: list[ReadableSpan]) -> tuple[ReadableSpan, ReadableSpan]:
    root = one_span(spans, "POST /api/v1/chat/completions")
    assert root.kind is SpanKind.SERVER
    assert root.attributes is not None
    assert dict(root.attributes) == {
        "http.method": "POST",
        "http.route": "/api/v1/chat/completions",
        "http.status_code": 200,
    }
    root_id = root.context.span_id
    for name in ("auth", "guards", "provider.attempt"):
        assert parent_of(one_span(spans, name)) == root_id, name
    assert {span.context.trace_id for span in spans} == {root.context.trace_id}
    attempt = one_span(spans, "provider.attempt")
    assert dict(attempt.attributes or {}) == {
        "provider": "privatemode",
        "model": MODEL,
        "attempt": 1,
        "outcome": "ok",
    }
    return root, attempt


async def test_a_chat_is_one_trace_continuing_the_callers_and_sent_upstream(
    traced: TracedGateway,
) -> None:
    async with traced(extra=[Steps()]) as env:
        env.spans()
        env.exporter.clear()
        await env.privatemode.control.clear_requests()
        response = await _post_chat(env, _chat(), traceparent=TRACEPARENT)
        spans = env.spans()
        upstream = await env.privatemode.control.requests("/v1" + CHAT)
    root, attempt = _assert_request_tree(spans)
    assert _hex(root.context.trace_id, 32) == TRACE_ID
    assert root.parent is not None
    assert _hex(root.parent.span_id, 16) == PARENT_ID
    filters = [span for span in spans if span.name == "filters"]
    assert sorted(dict(s.attributes or {})["phase"] for s in filters) == ["request", "response"]
    assert all(parent_of(span) == root.context.span_id for span in filters)
    verify = one_span(spans, "attestation.verify")
    assert parent_of(verify) == root.context.span_id
    assert dict(verify.attributes or {})["outcome"] == "verified"
    # the provider got the trace: same trace id, the attempt's span as parent
    assert len(upstream) == 1
    sent = upstream[0].headers["traceparent"]
    assert sent == f"00-{TRACE_ID}-{_hex(attempt.context.span_id, 16)}-01"
    # nothing of the prompt, the answer or the key in any span
    content = response.json()["choices"][0]["message"]["content"]
    dumped = json.dumps([span.to_json() for span in spans])
    assert PROMPT not in dumped
    assert content not in dumped
    assert env.key not in dumped


async def test_a_stream_without_traceparent_starts_a_trace_ended_by_its_last_chunk(
    traced: TracedGateway,
) -> None:
    async with traced() as env:
        env.spans()
        env.exporter.clear()
        await env.privatemode.control.clear_requests()
        response = await _post_chat(env, _chat(stream=True))
        assert "[DONE]" in response.text
        spans = env.spans()
        upstream = await env.privatemode.control.requests("/v1" + CHAT)
    root, attempt = _assert_request_tree(spans)
    assert root.parent is None
    assert root.status.status_code is StatusCode.UNSET
    assert root.end_time is not None
    assert attempt.end_time is not None
    assert root.end_time >= attempt.end_time
    trace_id = _hex(root.context.trace_id, 32)
    assert upstream[0].headers["traceparent"].split("-")[1] == trace_id


async def test_a_refused_request_is_traced_with_its_status_and_error_only(
    traced: TracedGateway,
) -> None:
    async with traced() as env:
        env.spans()
        env.exporter.clear()
        async with httpx.AsyncClient() as client:
            response = await client.post(
                env.base_url + CHAT, json=_chat(), headers={"Authorization": "Bearer sk-wrong"}
            )
        assert response.status_code == 401
        spans = env.spans()
    root = one_span(spans, "POST /api/v1/chat/completions")
    assert dict(root.attributes or {})["http.status_code"] == 401
    auth = one_span(spans, "auth")
    assert parent_of(auth) == root.context.span_id
    assert "sk-wrong" not in json.dumps([span.to_json() for span in spans])


async def test_tracing_off_produces_no_span_and_sends_no_traceparent(
    traced: TracedGateway,
) -> None:
    async with traced(tracing=False) as env:
        assert env.kernel.components.tracer is NO_TRACER
        await env.privatemode.control.clear_requests()
        await _post_chat(env, _chat(), traceparent=TRACEPARENT)
        await _post_chat(env, _chat(stream=True))
        upstream = await env.privatemode.control.requests("/v1" + CHAT)
        assert env.spans() == []
    assert len(upstream) == 2
    assert all("traceparent" not in record.headers for record in upstream)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    with json_log_lines() as stream:
        yield stream


async def test_json_log_lines_of_a_traced_request_carry_its_trace_id(
    traced: TracedGateway, json_lines: io.StringIO
) -> None:
    async with traced(extra=[Boom()], ENCLAVA_SERVER_LOG_FORMAT="json") as env:
        root_url = env.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient() as client:
            failed = await client.get(root_url + "/boom", headers={"traceparent": TRACEPARENT})
            plain = await client.get(root_url + "/boom")
        spans = env.spans()
    assert failed.status_code == plain.status_code == 500
    entries = json_entries(json_lines)
    crashes = {
        e["request_id"]: e for e in entries if e["message"].startswith("unhandled RuntimeError")
    }
    assert crashes[failed.headers["x-request-id"]]["trace_id"] == TRACE_ID
    other = crashes[plain.headers["x-request-id"]]["trace_id"]
    assert other != TRACE_ID
    roots = [span for span in spans if span.name == "GET /boom"]
    assert {_hex(span.context.trace_id, 32) for span in roots} == {TRACE_ID, other}
    assert all(span.status.status_code is StatusCode.ERROR for span in roots)
