"""What stays behind: nothing after a delete; no readable chunk text on disk or in the vector
payload; a job a stopped process left mid-way runs again after a restart; an embedding failure
fails the job with its reason (never a substitute vector)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from builtin_plugins.rag.models import rag_chunks, rag_documents, rag_jobs
from builtin_plugins.rag.runtime import vector_collection
from builtin_plugins.rag.store import get_document, set_job

INTERNAL = "/api-internal/v1/rag"
MARKER = "Quetzalcoatlus pterosaurs soared above Cretaceous plains"


async def _rows(env: Any, table: Any, **where: str) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with env.kernel.stores.db.session() as session:
        return int((await session.execute(query)).scalar_one())


async def _indexed(env: Any, headers: dict[str, str], cid: str, name: str, text: str) -> str:
    response = await env.upload(headers, cid, [(name, text.encode())])
    document_id = str(response.json()["documents"][0]["id"])
    assert (await env.wait_indexed(headers, document_id))["job"]["state"] == "indexed"
    return document_id


async def test_delete_document_and_collection_leave_nothing(rag_env: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        keep = await _indexed(env, headers, cid, "keep.txt", "Kestrels hover over meadows.")
        gone = await _indexed(env, headers, cid, "gone.txt", MARKER)
        gone_file = (await get_document(env.kernel.stores.db, gone)).file_id
        vectors, files = env.kernel.stores.vectors, env.kernel.stores.files
        assert await vectors.count(vector_collection(cid)) == 2
        response = await env.client.delete(f"{INTERNAL}/documents/{gone}", headers=headers)
        assert response.status_code == 204
        assert await vectors.count(vector_collection(cid)) == 1
        assert await _rows(env, rag_chunks, document_id=gone) == 0
        assert await _rows(env, rag_jobs, document_id=gone) == 0
        assert not await files.exists(gone_file)
        hits = (await env.search(headers, cid, "pterosaurs Cretaceous")).json()["data"]
        assert {h["document_id"] for h in hits} == {keep}
        keep_file = (await get_document(env.kernel.stores.db, keep)).file_id
        response = await env.client.delete(f"{INTERNAL}/collections/{cid}", headers=headers)
        assert response.status_code == 204
        assert not await vectors.drop_collection(vector_collection(cid))  # already gone
        assert await _rows(env, rag_chunks) == 0
        assert await _rows(env, rag_documents) == 0
        assert not await files.exists(keep_file)
        missing = await env.client.get(f"{INTERNAL}/collections/{cid}", headers=headers)
        assert missing.status_code == 404


async def test_no_readable_text_on_disk_or_in_vector_payload(rag_env: Any, tmp_path: Path) -> None:
    async with rag_env() as env:
        owner_id, headers = await env.user()
        cid = await env.collection(headers)
        document_id = await _indexed(env, headers, cid, "notes.txt", MARKER)
        hits = await env.kernel.stores.vectors.hybrid_search(
            vector_collection(cid), dense=[0.05] * 384, limit=5
        )
        assert [h.payload for h in hits] == [
            {"owner_id": owner_id, "collection_id": cid, "document_id": document_id}
        ]
        found = (await env.search(headers, cid, "pterosaurs")).json()["data"]
        assert found[0]["text"] == MARKER
    assert not _files_holding(tmp_path, MARKER)


def _files_holding(root: Path, text: str) -> list[Path]:
    """Files under ``root`` holding ``text`` or a distinctive word of it, in any case."""
    needles = [text.encode(), text.lower().encode(), b"Quetzalcoatlus", b"pterosaurs"]
    files = [path for path in root.rglob("*") if path.is_file()]
    assert len(files) >= 3  # the database, the encrypted original, the vector store
    return [path for path in files if any(n in path.read_bytes() for n in needles)]


async def test_interrupted_job_resumes_after_restart(rag_env: Any, make_rag_app: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        document_id = await _indexed(
            env, headers, cid, "herons.txt", "Herons fish in shallow water."
        )
        # A process killed in the middle of the embedding step leaves this behind.
        await set_job(env.kernel.stores.db, document_id, "embedding", progress=40)
        queued = (await env.upload(headers, cid, [("late.txt", b"Egrets are white.")])).json()
        late_id = queued["documents"][0]["id"]
    async with rag_env(app=make_rag_app()) as env:
        for did in (document_id, late_id):
            done = await _wait_any_user(env, did)
            assert done.state == "indexed", done
        assert await env.kernel.stores.vectors.count(vector_collection(cid)) == 2


async def _wait_any_user(env: Any, document_id: str) -> Any:
    import asyncio

    for _ in range(600):
        document = await get_document(env.kernel.stores.db, document_id)
        if document is not None and document.state in {"indexed", "failed"}:
            return document
        await asyncio.sleep(0.05)
    raise AssertionError("job did not finish")


async def test_embedding_failure_fails_the_job_with_its_reason(rag_env: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(
            headers, embedding="provider", embedding_model="no-such-embedding-model"
        )
        response = await env.upload(headers, cid, [("a.txt", b"Some text to embed.")])
        document_id = response.json()["documents"][0]["id"]
        done = await env.wait_indexed(headers, document_id)
        assert done["job"]["state"] == "failed"
        assert "no-such-embedding-model" in done["job"]["error"]
        assert await _rows(env, rag_chunks, document_id=document_id) == 0
        assert (await env.search(headers, cid, "text")).json()["data"] == []
