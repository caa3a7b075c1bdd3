"""A document collection built through the internal API of a running app, for tests that need
ingest jobs and searches to have happened (metrics, traces)."""

from __future__ import annotations

import asyncio

import httpx

__all__ = ["RAG", "indexed_collection", "search"]

RAG = "/api-internal/v1/rag"


async def _final_state(client: httpx.AsyncClient, headers: dict[str, str], document: str) -> str:
    for _ in range(1200):
        response = await client.get(f"{RAG}/documents/{document}", headers=headers)
        assert response.status_code == 200, response.text
        state = str(response.json()["job"]["state"])
        if state in {"indexed", "failed"}:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"the ingest job of {document} never ended")


async def indexed_collection(
    client: httpx.AsyncClient, headers: dict[str, str], files: list[tuple[str, bytes]]
) -> tuple[str, dict[str, str]]:
    """A new collection holding ``files`` (name, content), once every ingest job has ended:
    its id and each file's final job state (``indexed`` or ``failed``)."""
    created = await client.post(f"{RAG}/collections", json={"name": "docs"}, headers=headers)
    assert created.status_code == 201, created.text
    collection = str(created.json()["id"])
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    uploaded = await client.post(
        f"{RAG}/collections/{collection}/documents", files=parts, headers=headers
    )
    assert uploaded.status_code == 202, uploaded.text
    documents = {d["name"]: d["id"] for d in uploaded.json()["documents"]}
    return collection, {
        name: await _final_state(client, headers, document) for name, document in documents.items()
    }


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str, query: str, **extra: object
) -> list[dict[str, object]]:
    """The passages a search of ``collection`` answers."""
    response = await client.post(
        f"{RAG}/collections/{collection}/search", json={"query": query, **extra}, headers=headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, object]] = response.json()["data"]
    return data
