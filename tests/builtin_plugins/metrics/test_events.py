"""The families fed by events, through the real app: RAG ingest jobs and query latency, the
usage-queue depth, and model calls that failed after every retry (labelled with the provider
tried last). Sandboxed plugin calls: tests/plugins/test_metrics.py."""

from __future__ import annotations

import asyncio

import httpx
from support.gateway import Gateway
from support.identity import admin_headers
from support.metrics import ENABLED, Samples, family_types, scrape, total
from support.rag import indexed_collection, search

PRIVATEMODE_ONLY = "gemma-3-27b"
CHAT = [{"role": "user", "content": "hi"}]


async def _scrape_until(base: str, name: str, value: float, **labels: str) -> tuple[str, Samples]:
    for _ in range(200):
        text, samples = await scrape(base)
        if total(samples, name, **labels) == value:
            return text, samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} {labels} never reached {value}")


async def test_rag_ingest_jobs_and_query_latency(gateway: Gateway) -> None:
    async with gateway(**ENABLED) as env:
        base = env.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            headers = await admin_headers(env.app, client)
            files = [("badgers.txt", b"Badgers dig tunnels."), ("broken.pdf", b"%PDF-1.7 nope")]
            collection, states = await indexed_collection(client, headers, files)
            await search(client, headers, collection, "tunnels")
            await search(client, headers, collection, "who digs", mode="dense")
        text, samples = await scrape(base)
    assert states == {"badgers.txt": "indexed", "broken.pdf": "failed"}
    types = family_types(text)
    assert types["enclava_rag_ingest_jobs"] == "counter"
    assert types["enclava_rag_query_duration_seconds"] == "histogram"
    jobs = "enclava_rag_ingest_jobs_total"
    assert total(samples, jobs, state="indexed") == 1
    assert total(samples, jobs, state="failed") == 1
    queries = "enclava_rag_query_duration_seconds"
    assert total(samples, f"{queries}_count", mode="hybrid") == 1
    assert total(samples, f"{queries}_count", mode="dense") == 1
    assert total(samples, f"{queries}_sum") > 0
    assert "tunnels" not in text


async def test_usage_queue_depth_counts_records_not_yet_stored(gateway: Gateway) -> None:
    slow = {**ENABLED, "ENCLAVA_USAGE_FLUSH_INTERVAL_SECONDS": "30"}
    async with gateway(**slow) as env:
        base = env.base_url.removesuffix("/api/v1")
        text, samples = await scrape(base)
        assert family_types(text)["enclava_usage_queue_depth"] == "gauge"
        assert total(samples, "enclava_usage_queue_depth") == 0
        client = env.client()
        for _ in range(2):
            await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        await _scrape_until(base, "enclava_usage_queue_depth", 2)


async def test_the_queue_empties_when_records_are_stored(gateway: Gateway) -> None:
    async with gateway(**ENABLED) as env:
        base = env.base_url.removesuffix("/api/v1")
        await env.client().chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        _, samples = await _scrape_until(base, "enclava_model_requests_total", 1)
    assert total(samples, "enclava_usage_queue_depth") == 0


async def test_a_call_failing_after_retries_is_labelled_with_the_provider_tried_last(
    gateway: Gateway,
) -> None:
    """Only Privatemode serves the model, and every attempt fails: its name labels the call.
    A call no provider was tried for (an unknown model) keeps ``none``."""
    async with gateway(**ENABLED) as env:
        await env.privatemode.control.set_faults(status=503, paths=["/v1/chat"])
        base = env.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=env.base_url, timeout=20) as client:
            headers = {"authorization": f"Bearer {env.key}"}
            failed = await client.post(
                "/chat/completions",
                json={"model": PRIVATEMODE_ONLY, "messages": CHAT},
                headers=headers,
            )
            unknown = await client.post(
                "/chat/completions",
                json={"model": "no-such-model", "messages": CHAT},
                headers=headers,
            )
        assert failed.status_code >= 500, failed.text
        assert unknown.status_code == 404
        _, samples = await _scrape_until(base, "enclava_model_requests_total", 2)
        upstream = await env.privatemode.control.requests("/v1/chat/completions")
    assert len(upstream) >= 2  # retried before giving up
    calls = "enclava_model_requests_total"
    status = str(failed.status_code)
    assert total(samples, calls, provider="privatemode", model=PRIVATEMODE_ONLY, status=status) == 1
    assert total(samples, calls, provider="none", status="404") == 1
    assert total(samples, calls, provider="none") == 1


async def test_a_stream_whose_client_left_is_still_counted(gateway: Gateway) -> None:
    async with gateway(**ENABLED) as env:
        await env.privatemode.control.set_faults(frame_interval_ms=300, paths=["/v1/chat"])
        body = {"model": PRIVATEMODE_ONLY, "messages": CHAT, "stream": True}
        async with (
            httpx.AsyncClient(timeout=20) as client,
            client.stream(
                "POST",
                env.base_url + "/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {env.key}"},
            ) as response,
        ):
            async for _ in response.aiter_bytes():
                break  # the first chunk, then the connection closes
        chat = {"route": "/api/v1/chat/completions", "status": "200"}
        _, samples = await _scrape_until(
            env.base_url.removesuffix("/api/v1"), "enclava_http_requests_total", 1, **chat
        )
    route = {"route": "/api/v1/chat/completions"}
    assert total(samples, "enclava_http_request_duration_seconds_count", **route) == 1
