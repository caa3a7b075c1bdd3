"""The core flow on PostgreSQL with Redis: upload, index, search, resume, delete."""

from __future__ import annotations

from typing import Any

from builtin_plugins.rag.runtime import vector_collection
from builtin_plugins.rag.store import set_job

INTERNAL = "/api-internal/v1/rag"
PUBLIC = "/api/v1/rag"


async def test_core_flow_on_postgresql_and_redis(
    rag_env: Any, make_rag_app: Any, postgres_url: str, redis_prefix: str, documents: Any
) -> None:
    stack = {"database_url": postgres_url, "redis_prefix": redis_prefix}
    async with rag_env(**stack) as env:
        owner_id, headers = await env.user()
        cid = await env.collection(headers)
        files = [
            ("report.pdf", documents.pdf(["Glaciers carve valleys over millennia."])),
            ("memo.docx", documents.docx("Budget", ["The budget for lanterns doubled."])),
            ("readme.md", b"# Setup\n\nInstall the telescope on a tripod.\n"),
        ]
        body = (await env.upload(headers, cid, files)).json()
        ids = [d["id"] for d in body["documents"]]
        for document_id in ids:
            assert (await env.wait_indexed(headers, document_id))["job"]["state"] == "indexed"
        key = await env.key(owner_id)
        for query, name in [
            ("glaciers valleys", "report.pdf"),
            ("lantern budget", "memo.docx"),
            ("telescope tripod", "readme.md"),
        ]:
            response = await env.client.post(
                f"{PUBLIC}/collections/{cid}/search", json={"query": query}, headers=key
            )
            assert response.json()["data"][0]["document_name"] == name
        await set_job(env.kernel.stores.db, ids[0], "chunking", progress=10)
    async with rag_env(app=make_rag_app(**stack)) as env:
        assert (await env.wait_indexed(headers, ids[0]))["job"]["state"] == "indexed"
        deleted = await env.client.delete(f"{INTERNAL}/collections/{cid}", headers=headers)
        assert deleted.status_code == 204
        assert not await env.kernel.stores.vectors.drop_collection(vector_collection(cid))
