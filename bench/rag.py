"""RAG benchmark: ingest throughput with local embeddings, query latency, retrieval quality.

Usage: ``.venv/bin/python bench/rag.py [--docs DIR] [--limit N] [--queries N] [--threads 1]
[--fill 100000]``, and for the vector store alone
``.venv/bin/python bench/rag.py --store 100000 [--engines edge,local]``.

Corpus: the Python library reference as Debian's ``python3-doc`` ships it
(``apt-get install -y python3-doc``: ``/usr/share/doc/python3.11/html/library/*.html``, PSF
licence), uploaded unchanged as HTML documents.

Method: one process runs the real app (every builtin plugin, SQLite, memory KV, embedded
Qdrant, ``ENCLAVA_RAG_INGEST_CONCURRENCY=1`` and ``--threads`` embedding threads) and talks to it
through the ASGI interface with an admin's JWT, like a client would, minus the network.

- *Ingest*: every document is uploaded (20 per request) into one local-embedding collection;
  the clock runs from the first upload until the last job is ``indexed``. Throughput is chunks
  (256 tokens, 32 overlap) per second, end to end: sniffing, HTML extraction, chunking,
  embedding, sparse vectors, AES-GCM sealing, SQL and Qdrant writes. The process's CPU time
  over the same span gives chunks per CPU-second: what one core does when the machine is
  shared (its wall-clock rate then depends on the neighbours).
- *Questions*, built deterministically: a Sphinx module page's ``<h1>`` links to the module with
  a ``title`` attribute holding its one-line synopsis (``zipfile: Read and write ZIP-format
  archive files.``). That synopsis, without the module name, is the question; the page it comes
  from is the one right answer. The attribute is not part of the extracted text, so the
  question is not copied from the chunk it must find (its words may still occur in the page).
  Pages whose synopsis is shared by another page are skipped; the first ``--queries`` in file
  order are used.
- *Quality*: for each mode (dense, sparse, hybrid) every question is searched through
  ``POST /api-internal/v1/rag/collections/{id}/search`` with ``top_k=10``; the rank of the first
  passage from the right page gives recall@5 (found in the first 5) and MRR@10.
- *Latency*: p50/p95 of those searches (hybrid, top 5 repeated for the headline), through the
  API, with the collection at its full size.
- *At scale* (``--fill N``, after the above): the same collection is filled up to N chunks with
  synthetic ones, each a real chunk row (AES-GCM sealed, in SQL) and a point whose sparse vector
  is the BM25 vector of a window of the corpus text and whose dense vector is a random unit
  vector (embedding 100k texts on one core would take over an hour). After the engine has
  indexed them (``wait_indexed``), the hybrid top-5 questions are asked again through the API
  and straight to the store; the process's RSS is stated then (idle: no request running).
- *Store* (``--store N``): each embedded engine in its own process (so RSS is its own) upserts
  N hybrid points (384-d random unit vectors, BM25 vectors of corpus windows, owner/collection/
  document payload) in batches of 256, then answers ``--queries`` (200) hybrid top-5 queries
  with a collection filter. Upsert time is until the last write returned; indexing time until
  the background index build ended (edge; the local mode has no index); RSS after both.

Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import resource
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from rag_scale import Synthetic, fill, rss_mb, store_bench, store_run, wait_indexed, windows

DEFAULT_DOCS = Path("/usr/share/doc/python3.11/html/library")
INTERNAL = "/api-internal/v1/rag"
_TITLE = re.compile(rb'<h1><a class="reference internal" href="#module-[^"]*" title="([^"]+)"')


def questions(files: list[Path], limit: int) -> list[tuple[str, str]]:
    """(question, file name) pairs from each page's module synopsis (see the docstring)."""
    found: list[tuple[str, str]] = []
    for path in files:
        match = _TITLE.search(path.read_bytes())
        if match:
            text = match.group(1).decode("utf-8", "replace")
            synopsis = text.split(":", 1)[1].strip() if ":" in text else text
            synopsis = synopsis.replace("&quot;", '"').replace("&amp;", "&").replace("&#x27;", "'")
            if len(synopsis.split()) >= 3:
                found.append((synopsis, path.name))
    counts: dict[str, int] = {}
    for synopsis, _ in found:
        counts[synopsis] = counts.get(synopsis, 0) + 1
    return [(q, name) for q, name in found if counts[q] == 1][:limit]


@contextlib.asynccontextmanager
async def app_client(data_dir: Path, threads: int) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    from kernel.app import create_app
    from kernel.plugins import PluginManager
    from kernel.settings import load_settings

    plugins = PluginManager(load_entry_points=False)
    env = {
        "ENCLAVA_DATA_DIR": str(data_dir),
        "ENCLAVA_PRIVATEMODE_ENABLED": "false",
        "ENCLAVA_REDPILL_ENABLED": "false",
        "ENCLAVA_RAG_INGEST_CONCURRENCY": "1",
        "ENCLAVA_RAG_EMBEDDING_THREADS": str(threads),
        "ENCLAVA_RAG_MAX_UPLOAD_BYTES": str(50 * 1024 * 1024),
        "ENCLAVA_RATE_LIMIT_INTERNAL_PER_MINUTE": "1000000",  # the bench asks hundreds at once
    }
    settings = load_settings(env=env, plugin_schemas=plugins.settings_schemas())
    app = create_app(settings, plugins=plugins)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client,
    ):
        yield client, app


_EMAIL, _PASSWORD = "bench@example.com", "bench-password-1234"


async def create_admin(app: Any) -> None:
    from builtin_plugins.auth.passwords import Passwords
    from builtin_plugins.auth.users import create_user

    digest = await asyncio.to_thread(Passwords().hash, _PASSWORD)
    await create_user(app.state.kernel.stores.db, email=_EMAIL, password_hash=digest, role="admin")


async def login(client: httpx.AsyncClient) -> dict[str, str]:
    """A fresh access token (they expire during a long ingest)."""
    response = await client.post(
        "/api-internal/v1/auth/login", json={"email": _EMAIL, "password": _PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def ingest(client: httpx.AsyncClient, files: list[Path]) -> tuple[str, int, float, list[str]]:
    """(collection id, chunks, seconds, ids of the indexed documents)."""
    headers = await login(client)
    response = await client.post(
        f"{INTERNAL}/collections", json={"name": "pydocs"}, headers=headers
    )
    response.raise_for_status()
    cid = response.json()["id"]
    started, cpu = time.perf_counter(), time.process_time()
    await upload(client, cid, files, headers)
    documents = await wait_processed(client, cid, headers)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for document in documents:
        if document["job"]["state"] == "failed":
            print(f"  failed {document['name']}: {document['job']['error']}")
    indexed = [d["id"] for d in documents if d["job"]["state"] == "indexed"]
    chunks = sum(d["chunk_count"] for d in documents)
    print(f"ingest CPU: {cpu:.1f} s of this process = {chunks / cpu:.1f} chunks per CPU-second")
    return cid, chunks, elapsed, indexed


async def upload(
    client: httpx.AsyncClient, cid: str, files: list[Path], headers: dict[str, str]
) -> None:
    """Upload ``files`` into collection ``cid``, 20 per request, printing the refused ones."""
    for start in range(0, len(files), 20):
        parts = [
            ("files", (p.name, p.read_bytes(), "text/html")) for p in files[start : start + 20]
        ]
        body = (
            await client.post(
                f"{INTERNAL}/collections/{cid}/documents", files=parts, headers=headers
            )
        ).json()
        for error in body["errors"]:
            print(f"  refused {error['name']}: {error['message']}")


async def wait_processed(
    client: httpx.AsyncClient, cid: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    """Every document of ``cid`` once each job is ``indexed`` or ``failed``."""
    while True:
        documents = await list_documents(client, cid, headers)
        if documents is None:  # the access token expired during the ingest
            headers = await login(client)
            continue
        if all(d["job"]["state"] in {"indexed", "failed"} for d in documents):
            return documents
        await asyncio.sleep(0.5)


async def list_documents(
    client: httpx.AsyncClient, cid: str, headers: dict[str, str]
) -> list[dict[str, Any]] | None:
    """Every document of ``cid``, page by page; None when the access token has expired."""
    url = f"{INTERNAL}/collections/{cid}/documents"
    response = await client.get(url, params={"limit": 200, "offset": 0}, headers=headers)
    if response.status_code == 401:
        return None
    page = response.json()
    documents: list[dict[str, Any]] = page["data"]
    while len(documents) < page["total"]:
        more = await client.get(
            url, params={"limit": 200, "offset": len(documents)}, headers=headers
        )
        documents += more.json()["data"]
    return documents


async def at_scale(
    client: httpx.AsyncClient,
    app: Any,
    cid: str,
    documents: list[str],
    qs: list[tuple[str, str]],
    files: list[Path],
    target: int,
) -> None:
    """The ``--fill`` run: API and store latency, RSS, with the collection at ``--fill``."""
    from builtin_plugins.rag.embedding import sparse_query
    from builtin_plugins.rag.runtime import runtime_for, vector_collection

    data = Synthetic(windows(files))
    started = time.perf_counter()
    total = await fill(app, cid, target, documents, data)
    upserted = time.perf_counter() - started
    indexed = await wait_indexed(app.state.kernel.stores.vectors)
    print(f"fill: {total} chunks; writes {upserted:.1f} s, then indexing {indexed:.1f} s")
    headers = await login(client)
    _, _, api = await evaluate(client, headers, cid, qs, "hybrid", 5)
    runtime = runtime_for(app.state.kernel)
    dense = await runtime.embedder.embed([q for q, _ in qs])
    store: list[float] = []
    for (question, _), vector in zip(qs, dense, strict=True):
        sparse = sparse_query(runtime.tokenizer, question)
        began = time.perf_counter()
        await app.state.kernel.stores.vectors.hybrid_search(
            vector_collection(cid),
            dense=vector,
            sparse=sparse,
            limit=5,
            must={"collection_id": cid},
        )
        store.append((time.perf_counter() - began) * 1000)
    print(
        f"at {total} chunks (hybrid, top 5): API p50 {statistics.median(api):.1f} ms, "
        f"p95 {_pct(api, 0.95):.1f} ms; store p50 {statistics.median(store):.1f} ms, "
        f"p95 {_pct(store, 0.95):.1f} ms; idle RSS {rss_mb():.0f} MB"
    )


async def evaluate(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    cid: str,
    qs: list[tuple[str, str]],
    mode: str,
    top_k: int,
) -> tuple[float, float, list[float]]:
    """(recall@5, MRR@10, latencies in ms)."""
    hits5, reciprocal, latencies = 0, 0.0, []
    for question, name in qs:
        started = time.perf_counter()
        response = await client.post(
            f"{INTERNAL}/collections/{cid}/search",  # a run is shorter than a token's life
            json={"query": question, "top_k": top_k, "mode": mode},
            headers=headers,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        ranked = [p["document_name"] for p in response.json()["data"]]
        if name in ranked:
            rank = ranked.index(name) + 1
            hits5 += rank <= 5
            reciprocal += 1 / rank if rank <= 10 else 0
    return hits5 / len(qs), reciprocal / len(qs), latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="directory of HTML pages")
    parser.add_argument("--limit", type=int, default=0, help="use the first N pages (0: all)")
    parser.add_argument("--queries", type=int, default=200, help="most questions to ask")
    parser.add_argument("--threads", type=int, default=1, help="local embedding threads")
    parser.add_argument("--fill", type=int, default=0, help="then fill to N chunks (0: no)")
    parser.add_argument("--store", type=int, default=0, help="only the store bench, N points")
    parser.add_argument("--engines", default="edge,local", help="engines of --store")
    parser.add_argument("--store-engine", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    files = sorted(args.docs.glob("*.html"))
    if args.store and args.store_engine:
        await store_run(args.store_engine, args.store, files, args.queries)
        return
    if args.store:
        store_bench(args.store, args.engines.split(","), args.docs, args.queries)
        return
    if args.limit:
        files = files[: args.limit]
    qs = questions(files, args.queries)
    print(f"corpus: {len(files)} pages from {args.docs}; {len(qs)} questions")
    with tempfile.TemporaryDirectory() as tmp:
        async with app_client(Path(tmp), args.threads) as (client, app):
            await create_admin(app)
            cid, chunks, seconds, documents = await ingest(client, files)
            headers = await login(client)
            print(
                f"ingest: {chunks} chunks in {seconds:.1f} s = {chunks / seconds:.1f} chunks/s "
                f"({args.threads} embedding thread(s), os.cpu_count()={os.cpu_count()})"
            )
            print("| mode | recall@5 | MRR@10 | p50 ms | p95 ms |")
            print("|---|---|---|---|---|")
            for mode in ("dense", "sparse", "hybrid"):
                recall, mrr, latencies = await evaluate(client, headers, cid, qs, mode, 10)
                print(
                    f"| {mode} | {recall:.3f} | {mrr:.3f} | {statistics.median(latencies):.1f} "
                    f"| {_pct(latencies, 0.95):.1f} |"
                )
            _, _, latencies = await evaluate(client, headers, cid, qs, "hybrid", 5)
            print(
                f"query through the API (hybrid, top 5) at {chunks} chunks: "
                f"p50 {statistics.median(latencies):.1f} ms, p95 {_pct(latencies, 0.95):.1f} ms"
            )
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"RSS of the process: {rss_mb():.0f} MB idle, {rss:.0f} MB peak")
            if args.fill:
                await at_scale(client, app, cid, documents, qs, files, args.fill)


if __name__ == "__main__":
    asyncio.run(main())
