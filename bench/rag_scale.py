"""Scale runs of bench/rag.py: synthetic chunks and the embedded engines' store benchmark.

See bench/rag.py's docstring (*At scale*, *Store*) for the method.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["Synthetic", "fill", "rss_mb", "store_bench", "store_run", "wait_indexed", "windows"]

_TAGS = re.compile(r"<[^>]+>")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def windows(files: list[Path], words: int = 150) -> list[str]:
    """The corpus text (tags stripped) in windows of ``words`` words, for synthetic points."""
    out: list[str] = []
    for path in files:
        text = _TAGS.sub(" ", path.read_text("utf-8", "replace")).split()
        out.extend(" ".join(text[i : i + words]) for i in range(0, len(text), words))
    return [w for w in out if len(w.split()) >= 20]


def rss_mb() -> float:
    """The resident set size of this process now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Synthetic:
    """Hybrid points for scale runs: random unit dense vectors, BM25 vectors of real text."""

    def __init__(self, texts: list[str]) -> None:
        import numpy as np

        from builtin_plugins.rag.chunking import load_tokenizer
        from builtin_plugins.rag.embedding import sparse_document

        tokenizer = load_tokenizer()
        self.texts = texts
        self.sparse = [sparse_document(tokenizer, text) for text in texts]
        self._rng = np.random.default_rng(15)

    def dense(self, count: int) -> list[list[float]]:
        import numpy as np

        vectors = self._rng.standard_normal((count, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows: list[list[float]] = vectors.tolist()
        return rows


async def wait_indexed(vectors: Any) -> float:
    """Seconds until the embedded engine's background index build is done (0 without one)."""
    started = time.perf_counter()
    wait = getattr(getattr(vectors, "_backend", None), "wait_indexed", None)
    if wait is not None:
        await wait()
    return time.perf_counter() - started


async def fill(app: Any, cid: str, target: int, documents: list[str], data: Synthetic) -> int:
    """Fill collection ``cid`` with synthetic chunks (rows and points) up to ``target``."""
    from sqlalchemy import insert

    from builtin_plugins.rag.crypto import SealedText
    from builtin_plugins.rag.models import rag_chunks
    from builtin_plugins.rag.runtime import runtime_for, vector_collection
    from builtin_plugins.rag.store import get_collection
    from kernel.storage.vectors import HybridPoint

    kernel = app.state.kernel
    runtime = runtime_for(kernel)
    vectors, name = kernel.stores.vectors, vector_collection(cid)
    owner = (await get_collection(kernel.stores.db, cid)).owner_id
    have = await vectors.count(name)
    for start in range(have, target, 256):
        count = min(256, target - start)
        rows, points = [], []
        for offset, dense in enumerate(data.dense(count)):
            n = start + offset
            document, text = documents[n % len(documents)], data.texts[n % len(data.texts)]
            chunk_id = f"{document}:{100000 + n}"
            nonce, sealed = runtime.cipher.seal(chunk_id, SealedText(text, None))
            rows.append(
                {
                    "id": chunk_id,
                    "document_id": document,
                    "collection_id": cid,
                    "position": 100000 + n,
                    "page": None,
                    "nonce": nonce,
                    "ciphertext": sealed,
                }
            )
            payload = {"owner_id": owner, "collection_id": cid, "document_id": document}
            points.append(HybridPoint(chunk_id, dense, data.sparse[n % len(data.sparse)], payload))
        async with kernel.stores.db.session() as session:
            await session.execute(insert(rag_chunks), rows)
        await vectors.upsert_hybrid(name, points)
    return await vectors.count(name)


async def store_run(engine: str, points: int, files: list[Path], asked: int = 200) -> None:
    """The ``--store`` run of one embedded engine, in this process."""
    from kernel.storage.vectors import HybridPoint, open_vector_store

    data = Synthetic(windows(files))
    queries = [
        (vector, data.sparse[i * 7 % len(data.sparse)])
        for i, vector in enumerate(data.dense(asked))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        vectors = open_vector_store("", "", Path(tmp), embedded_engine=engine)  # type: ignore[arg-type]
        await vectors.ensure_hybrid_collection("bench", dimensions=384)
        started = time.perf_counter()
        for start in range(0, points, 256):
            count = min(256, points - start)
            batch = [
                HybridPoint(
                    f"d{(start + i) // 25}:{start + i}",
                    dense,
                    data.sparse[(start + i) % len(data.sparse)],
                    {
                        "owner_id": "u1",
                        "collection_id": "c1",
                        "document_id": f"d{(start + i) // 25}",
                    },
                )
                for i, dense in enumerate(data.dense(count))
            ]
            await vectors.upsert_hybrid("bench", batch)
        upserted = time.perf_counter() - started
        indexed = await wait_indexed(vectors)
        latencies = []
        for dense, sparse in queries:
            began = time.perf_counter()
            await vectors.hybrid_search(
                "bench", dense=dense, sparse=sparse, limit=5, must={"collection_id": "c1"}
            )
            latencies.append((time.perf_counter() - began) * 1000)
        print(
            f"| {engine} | {await vectors.count('bench')} | {upserted:.1f} | {indexed:.1f} "
            f"| {statistics.median(latencies):.1f} | {_pct(latencies, 0.95):.1f} "
            f"| {rss_mb():.0f} |",
            flush=True,
        )
        await vectors.close()


def store_bench(points: int, engines: list[str], docs: Path, queries: int = 200) -> None:
    """Each engine's ``store_run`` in a process of its own."""
    import subprocess
    import sys

    print(
        f"store: {points} hybrid points, 384-d dense + BM25 sparse, os.cpu_count()={os.cpu_count()}"
    )
    print("| engine | points | upsert s | indexing s | hybrid p50 ms | p95 ms | RSS MB |")
    print("|---|---|---|---|---|---|---|")
    script = Path(__file__).with_name("rag.py")
    for engine in engines:
        command = [sys.executable, str(script), "--store", str(points), "--store-engine", engine]
        options = ["--docs", str(docs), "--queries", str(queries)]
        subprocess.run([*command, *options], check=True)
