"""Cancelling ingest jobs: a queued or running job ends ``cancelled`` with no chunk rows or
vectors left, the document and its original stay and can be reprocessed; a job that ended
answers 409. A run held mid-way (PostgreSQL, its chunk table locked) that is cancelled from
elsewhere stops at its next batch and removes what it wrote; a queued job never runs."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from sqlalchemy import func, select, text
from support.metrics import TOKEN, scrape_with, total

from builtin_plugins.rag.models import rag_chunks
from builtin_plugins.rag.runtime import vector_collection
from builtin_plugins.rag.store import cancel_job, get_document, job_attempt, set_job

INTERNAL = "/api-internal/v1/rag"
PUBLIC = "/api/v1/rag"
OTTERS = "Sea otters hold hands while they sleep so they do not drift apart."


async def _chunk_rows(env: Any, document_id: str) -> int:
    query = select(func.count()).where(rag_chunks.c.document_id == document_id)
    async with env.kernel.stores.db.session() as session:
        return int((await session.execute(query)).scalar_one())


async def _cancel(env: Any, headers: dict[str, str], did: str, base: str = INTERNAL) -> Any:
    return await env.client.post(f"{base}/documents/{did}/cancel", headers=headers)


async def test_cancel_keeps_the_document_and_nothing_else(rag_env: Any, make_rag_app: Any) -> None:
    async with rag_env() as env:
        owner_id, headers = await env.user()
        cid = await env.collection(headers)
        did = (await env.upload(headers, cid, [("otters.txt", OTTERS.encode())])).json()[
            "documents"
        ][0]["id"]
        assert (await env.wait_indexed(headers, did))["job"]["state"] == "indexed"
        finished = await _cancel(env, headers, did)
        assert finished.status_code == 409, finished.text
        assert finished.json()["error"]["code"] == "job_not_cancellable"
        assert "indexed" in finished.json()["error"]["message"]
        # Its job running elsewhere (another replica, or a process that stopped mid-way).
        await set_job(env.kernel.stores.db, did, "embedding", progress=40)
        cancelled = await _cancel(env, headers, did)
        assert cancelled.status_code == 200, cancelled.text
        body = cancelled.json()
        assert (body["job"]["state"], body["chunk_count"]) == ("cancelled", 0)
        assert await _chunk_rows(env, did) == 0
        assert await env.kernel.stores.vectors.count(vector_collection(cid)) == 0
        assert (await env.search(headers, cid, "otters sleep")).json()["data"] == []
        download = await env.client.get(f"{INTERNAL}/documents/{did}/download", headers=headers)
        assert download.content == OTTERS.encode()
        events = await env.client.get(f"{INTERNAL}/documents/{did}/events", headers=headers)
        states = [
            msgspec.json.decode(line[5:])["state"]
            for line in events.text.splitlines()
            if line.startswith("data:")
        ]
        assert states == ["cancelled"]
        assert (await _cancel(env, headers, did)).status_code == 409
        key = await env.key(owner_id)
        assert (await _cancel(env, key, did, base=PUBLIC)).status_code == 409
    async with rag_env(app=make_rag_app()) as env:  # a restart does not run it again
        assert (await get_document(env.kernel.stores.db, did)).state == "cancelled"
        again = await env.client.post(f"{INTERNAL}/documents/{did}/reprocess", headers=headers)
        assert again.status_code == 202
        assert (await env.wait_indexed(headers, did))["job"]["state"] == "indexed"
        hits = (await env.search(headers, cid, "otters sleep")).json()["data"]
        assert [h["document_id"] for h in hits] == [did]


async def test_public_api_cancels_a_queued_job(rag_env: Any) -> None:
    async with rag_env() as env:
        owner_id, headers = await env.user()
        cid = await env.collection(headers)
        key = await env.key(owner_id)
        uploaded = await env.upload(key, cid, [("otters.txt", OTTERS.encode())], base=PUBLIC)
        did = uploaded.json()["documents"][0]["id"]
        await env.wait_indexed(headers, did)
        await set_job(env.kernel.stores.db, did, "queued", progress=0)  # queued on a replica
        cancelled = await _cancel(env, key, did, base=PUBLIC)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["job"]["state"] == "cancelled"
        assert await job_attempt(env.kernel.stores.db, did) == ("cancelled", 1)
        other_id, _ = await env.user()
        other_key = await env.key(other_id)
        assert (await _cancel(env, other_key, did, base=PUBLIC)).status_code == 404


async def test_run_held_mid_way_stops_at_its_next_batch(
    rag_env: Any, postgres_url: str, redis_prefix: str
) -> None:
    stack = {"database_url": postgres_url, "redis_prefix": redis_prefix}
    metrics = {"ENCLAVA_METRICS_ENABLED": "true", "ENCLAVA_METRICS_TOKEN": TOKEN}
    async with rag_env(ENCLAVA_RAG_INGEST_CONCURRENCY="1", **stack, **metrics) as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        db = env.kernel.stores.db
        async with db.engine.connect() as lock, lock.begin():
            await lock.execute(text("LOCK TABLE rag_chunks IN EXCLUSIVE MODE"))
            body = (
                await env.upload(
                    headers, cid, [("otters.txt", OTTERS.encode()), ("later.txt", b"Later.")]
                )
            ).json()
            running, queued = (d["id"] for d in body["documents"])
            await _until(env, headers, running, lambda job: job["progress"] == 90)
            # The run now waits to write its chunk rows. Another replica cancels it; this one
            # cancels the job queued behind it.
            assert await cancel_job(db, running)
            later = asyncio.create_task(_cancel(env, headers, queued))
            await _until(env, headers, queued, lambda job: job["state"] == "cancelled")
        assert (await later).status_code == 200
        # One worker: once a third document is indexed, the held run has stopped.
        third = (await env.upload(headers, cid, [("third.txt", b"Puffins.")])).json()
        third_id = third["documents"][0]["id"]
        assert (await env.wait_indexed(headers, third_id))["job"]["state"] == "indexed"
        assert await job_attempt(db, running) == ("cancelled", 1)
        assert await job_attempt(db, queued) == ("cancelled", 0)  # never ran
        assert await _chunk_rows(env, running) == 0
        assert await env.kernel.stores.vectors.count(vector_collection(cid)) == 1
        hits = (await env.search(headers, cid, "otters sleep")).json()["data"]
        assert {h["document_id"] for h in hits} == {third_id}
        _, samples = await scrape_with(env.client)
        jobs = "enclava_rag_ingest_jobs_total"
        # The held run counts as cancelled; the queued one never ran, so it is not a job end.
        assert total(samples, jobs, state="cancelled") == 1
        assert total(samples, jobs, state="indexed") == 1


async def _until(env: Any, headers: dict[str, str], did: str, test: Any) -> None:
    for _ in range(1200):
        response = await env.client.get(f"{INTERNAL}/documents/{did}", headers=headers)
        if test(response.json()["job"]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"document {did} never got there: {response.json()}")
