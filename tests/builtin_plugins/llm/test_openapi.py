"""The served document describes the answers the gateway really gives (found by schemathesis,
tests/test_schemathesis.py): a stream that fails after it began ends with an ``Error`` event, and
``encoding_format: "base64"`` embeddings are strings."""

from __future__ import annotations

import json
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from support.gateway import EMBEDDING, SHARED, Gateway


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of ``schema`` whose ``#/components/...`` refs point into ``document``."""
    rooted = {**schema, "components": document["components"]}
    return Draft202012Validator(rooted)


def _events(text: str) -> list[Any]:
    datas = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    return [json.loads(data) for data in datas if data != "[DONE]"]


async def test_a_stream_broken_by_the_provider_ends_with_a_documented_error_event(
    gateway: Gateway,
) -> None:
    async with gateway() as env:
        for sim in (env.privatemode, env.redpill):
            await sim.control.set_faults(break_after=1, paths=["/v1/chat"])
        base = env.base_url.removesuffix("/api/v1")
        body = {"model": SHARED, "messages": [{"role": "user", "content": "hi"}], "stream": True}
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:
            document = (await client.get("/schema/openapi.json")).json()
            answer = await client.post(
                "/api/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {env.key}"},
            )
    assert answer.status_code == 200
    events = _events(answer.text)
    assert "error" in events[-1], events
    operation = document["paths"]["/api/v1/chat/completions"]["post"]
    schema = operation["responses"]["200"]["content"]["text/event-stream"]["schema"]
    validator = _resolved(document, schema)
    assert [e for e in events if not validator.is_valid(e)] == []


async def test_base64_embeddings_match_the_document(gateway: Gateway) -> None:
    async with gateway() as env:
        base = env.base_url.removesuffix("/api/v1")
        body = {"model": EMBEDDING, "input": ["hello"], "encoding_format": "base64"}
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:
            document = (await client.get("/schema/openapi.json")).json()
            answer = await client.post(
                "/api/v1/embeddings", json=body, headers={"authorization": f"Bearer {env.key}"}
            )
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json()["data"][0]["embedding"], str)
    operation = document["paths"]["/api/v1/embeddings"]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    errors = list(_resolved(document, schema).iter_errors(answer.json()))
    assert errors == []
