"""Per-kernel state of the plugin: settings, cipher, tokenizer, local model and ingest workers.

Ingest jobs live in SQL. At startup, jobs a stopped process left mid-way go back to ``queued``
and every queued job is handed to this replica's workers; an upload enqueues its documents on
the replica that took it. A worker claims a job with a conditional update, so two workers (or
replicas) never run the same one. ``cancel`` stops a running job (delete and reprocess use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from builtin_plugins.rag.crypto import ChunkCipher, cipher_for
from builtin_plugins.rag.embedding import LocalEmbedder
from builtin_plugins.rag.settings import RagSettings
from builtin_plugins.rag.store import queued_documents, requeue_interrupted
from kernel.runtime import Kernel
from kernel.stash import StashKey

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["SECTION", "RagRuntime", "runtime_for", "vector_collection"]

log = logging.getLogger(__name__)
SECTION = "rag"


def vector_collection(collection_id: str) -> str:
    """The Qdrant collection holding one RAG collection's points."""
    return f"rag_{collection_id}"


class RagRuntime:
    """Everything the routes, the retriever and the workers of one kernel share."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._cipher: ChunkCipher | None = None
        self._tokenizer: Tokenizer | None = None
        self._embedder: LocalEmbedder | None = None
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[None]] = {}

    @property
    def settings(self) -> RagSettings:
        return self.kernel.settings.section(SECTION, RagSettings)

    @property
    def cipher(self) -> ChunkCipher:
        if self._cipher is None:
            self._cipher = cipher_for(self.kernel.settings)
        return self._cipher

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            from builtin_plugins.rag.chunking import load_tokenizer

            self._tokenizer = load_tokenizer()
        return self._tokenizer

    @property
    def embedder(self) -> LocalEmbedder:
        if self._embedder is None:
            self._embedder = LocalEmbedder(self.settings.embedding_threads)
        return self._embedder

    async def start(self) -> None:
        """Requeue interrupted jobs and start the workers on every queued one."""
        if self._workers:
            return
        self._queue = asyncio.Queue()
        for number in range(self.settings.ingest_concurrency):
            self._workers.append(asyncio.create_task(self._work(), name=f"rag-ingest-{number}"))
        await requeue_interrupted(self.kernel.stores.db)
        for document_id in await queued_documents(self.kernel.stores.db):
            self.enqueue(document_id)

    async def stop(self) -> None:
        """Stop the workers; jobs they were running are requeued at the next start."""
        workers, self._workers = self._workers, []
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def enqueue(self, document_id: str) -> None:
        self._queue.put_nowait(document_id)

    async def cancel(self, document_id: str) -> None:
        """Stop the job of ``document_id`` if this replica runs it, and wait until it stopped."""
        task = self._running.get(document_id)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _work(self) -> None:
        from builtin_plugins.rag.ingest import ingest

        while True:
            document_id = await self._queue.get()
            task = asyncio.create_task(ingest(self, document_id))
            self._running[document_id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():  # the worker itself is stopping
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    raise
            except Exception:
                log.exception("rag ingest of document %s crashed", document_id)
            finally:
                self._running.pop(document_id, None)


def runtime_for(kernel: Kernel) -> RagRuntime:
    """The runtime of ``kernel``, created on first use and kept in its stash."""
    runtime = kernel.stash.get(RUNTIME)
    if runtime is None:
        runtime = RagRuntime(kernel)
        kernel.stash[RUNTIME] = runtime
    return runtime


RUNTIME: StashKey[RagRuntime] = StashKey()
