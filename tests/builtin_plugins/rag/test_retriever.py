"""The published Retriever service: the owner's passages, nobody else's."""

from __future__ import annotations

from typing import Any

import pytest

from builtin_plugins.rag.settings import RagSettings
from kernel.errors import NotFoundError
from kernel.services import Retriever
from kernel.types import Principal


async def test_retriever_service_searches_only_readable_collections(rag_env: Any) -> None:
    async with rag_env() as env:
        owner_id, headers = await env.user()
        cid = await env.collection(headers)
        response = await env.upload(headers, cid, [("birds.txt", b"Puffins nest on cliffs.")])
        await env.wait_indexed(headers, response.json()["documents"][0]["id"])
        retriever = env.kernel.service(Retriever)
        owner = Principal(kind="user", id=owner_id, owner_id=owner_id, roles=frozenset({"user"}))
        passages = await retriever.retrieve(owner, collections=[cid], query="puffins", top_k=3)
        assert [p.document_name for p in passages] == ["birds.txt"]
        assert passages[0].text == "Puffins nest on cliffs."
        assert passages[0].collection_id == cid
        dense = await retriever.retrieve(owner, collections=[cid], query="sea birds", mode="dense")
        assert dense[0].document_name == "birds.txt"
        stranger = Principal(kind="user", id="someone", owner_id="someone")
        with pytest.raises(NotFoundError):
            await retriever.retrieve(stranger, collections=[cid], query="puffins")
        plugin = Principal(kind="plugin", id="p", owner_id=owner_id)
        with pytest.raises(NotFoundError):
            await retriever.retrieve(plugin, collections=[cid], query="puffins")


@pytest.mark.parametrize(
    "values",
    [
        {"max_upload_bytes": 10},
        {"ingest_concurrency": 0},
        {"embedding_threads": 0},
        {"max_files_per_upload": 0},
        {"default_embedding": "provider"},
    ],
)
def test_settings_refuse_bad_values(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        RagSettings(**values)


async def test_settings_reach_the_app(rag_env: Any) -> None:
    async with rag_env(
        ENCLAVA_RAG_DEFAULT_EMBEDDING="provider", ENCLAVA_RAG_DEFAULT_EMBEDDING_MODEL="emb-1"
    ) as env:
        _, headers = await env.user()
        response = await env.client.post(
            "/api-internal/v1/rag/collections", json={"name": "p"}, headers=headers
        )
        assert response.json()["embedding"] == "provider"
        assert response.json()["embedding_model"] == "emb-1"
