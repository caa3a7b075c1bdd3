"""The request span of a stream whose client leaves, and the **rag.retrieve** span of a search,
through the real app with tracing on (the ``traced`` fixture: support.tracing)."""

from __future__ import annotations

import asyncio

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from support.identity import admin_headers
from support.rag import indexed_collection, search
from support.tracing import Traced, TracedGateway, one_span, parent_of

MODEL = "gpt-oss-120b"
CHAT_SPAN = "POST /api/v1/chat/completions"
SEARCH_SPAN = "POST /api-internal/v1/rag/collections/{collection_id}/search"


async def _finished(env: Traced, name: str) -> list[ReadableSpan]:
    """Every span so far, once one called ``name`` has ended."""
    for _ in range(200):
        spans = env.spans()
        if any(span.name == name for span in spans):
            return spans
        await asyncio.sleep(0.05)
    raise AssertionError(f"span {name} never ended")


async def test_a_client_leaving_mid_stream_ends_the_request_span(traced: TracedGateway) -> None:
    async with traced() as env:
        # a slow stream: the client is gone long before its last chunk
        await env.privatemode.control.set_faults(frame_interval_ms=300, paths=["/v1/chat"])
        env.spans()
        env.exporter.clear()
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
        async with (
            httpx.AsyncClient(timeout=20) as client,
            client.stream(
                "POST",
                env.base_url + "/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {env.key}"},
            ) as response,
        ):
            assert response.status_code == 200
            async for _ in response.aiter_bytes():
                break  # the first chunk, then the connection closes
        spans = await _finished(env, CHAT_SPAN)
    root = one_span(spans, CHAT_SPAN)
    assert root.end_time is not None
    attributes = dict(root.attributes or {})
    assert attributes["http.status_code"] == 200
    assert attributes["enclava.error_code"] == "client_closed"
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "the client closed the connection mid-response"
    attempt = one_span(spans, "provider.attempt")
    assert parent_of(attempt) == root.context.span_id


async def test_a_search_has_a_rag_retrieve_span_under_its_request(
    traced: TracedGateway,
) -> None:
    async with traced() as env:
        base = env.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            headers = await admin_headers(env.app, client)
            files = [("puffins.txt", b"Puffins nest on sea cliffs in large colonies.")]
            collection, states = await indexed_collection(client, headers, files)
            assert states == {"puffins.txt": "indexed"}
            env.spans()
            env.exporter.clear()
            passages = await search(client, headers, collection, "where do puffins nest", top_k=3)
        spans = await _finished(env, SEARCH_SPAN)
    assert [p["document_name"] for p in passages] == ["puffins.txt"]
    root = one_span(spans, SEARCH_SPAN)
    retrieve = one_span(spans, "rag.retrieve")
    assert parent_of(retrieve) == root.context.span_id
    assert retrieve.context.trace_id == root.context.trace_id
    assert dict(retrieve.attributes or {}) == {
        "mode": "hybrid",
        "collections": 1,
        "top_k": 3,
        "passages": 1,
    }
    assert retrieve.status.status_code is StatusCode.UNSET
    assert "puffins" not in str([span.to_json() for span in spans]).lower()
