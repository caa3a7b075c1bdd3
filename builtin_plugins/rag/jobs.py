"""One claimed attempt of an ingest job, and cancelling jobs.

Each claim raises the job's attempt number. The running attempt records every step (stage
boundaries, embedding and upsert batches) with an update that only matches while the job is
still its own and running; when it no longer matches — the job was cancelled (on any replica),
reprocessed, or the document deleted — the attempt stops there. A cancelled attempt removes the
chunk rows and vectors it wrote; the document and its encrypted original stay, so it can be
reprocessed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from builtin_plugins.rag.store import (
    DocumentRow,
    JobState,
    advance_job,
    cancel_job,
    clear_chunks,
    get_document,
    job_attempt,
)
from kernel.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from builtin_plugins.rag.runtime import RagRuntime

__all__ = ["JobCancelled", "JobRun", "cancel", "discard_index"]


class JobCancelled(Exception):
    """The attempt is no longer the job's running one; it stops."""


class JobRun:
    """The steps of one attempt at ``document_id``'s job."""

    def __init__(self, runtime: RagRuntime, document_id: str, attempt: int) -> None:
        self.runtime = runtime
        self.document_id = document_id
        self.attempt = attempt
        self._state: JobState = "extracting"
        self._progress = 0

    async def step(self, state: JobState, progress: int) -> None:
        """Record a step; JobCancelled when the attempt should stop."""
        db = self.runtime.kernel.stores.db
        if not await advance_job(db, self.document_id, self.attempt, state, progress=progress):
            raise JobCancelled(self.document_id)
        self._state, self._progress = state, progress

    async def check(self) -> None:
        """A batch boundary within the current step; JobCancelled when the attempt should stop."""
        await self.step(self._state, self._progress)

    async def finish(
        self, state: JobState, *, progress: int, error: str | None = None, chunks: int = 0
    ) -> bool:
        """Record how the attempt ended (``indexed`` or ``failed``); False if it was cancelled."""
        return await advance_job(
            self.runtime.kernel.stores.db,
            self.document_id,
            self.attempt,
            state,
            progress=progress,
            error=error,
            chunk_count=chunks if state == "indexed" else None,
        )

    async def stopped(self) -> bool:
        """After the attempt stopped: remove what it wrote if its job is cancelled (a newer
        attempt, after a reprocess, replaces the chunks itself). True if it was cancelled."""
        found = await job_attempt(self.runtime.kernel.stores.db, self.document_id)
        if found != ("cancelled", self.attempt):
            return False
        document = await get_document(self.runtime.kernel.stores.db, self.document_id)
        if document is not None:
            await discard_index(self.runtime, document)
        return True


async def discard_index(runtime: RagRuntime, document: DocumentRow) -> None:
    """Remove the document's vectors and chunk rows; the original stays."""
    from builtin_plugins.rag.runtime import vector_collection

    with contextlib.suppress(NotFoundError):
        await runtime.kernel.stores.vectors.delete_where(
            vector_collection(document.collection_id), {"document_id": document.id}
        )
    await clear_chunks(runtime.kernel.stores.db, document.id)


async def cancel(runtime: RagRuntime, document: DocumentRow) -> None:
    """Cancel a queued or running job (409 once it ended): it stops at its next step, on
    whichever replica runs it, and the document keeps no chunks or vectors."""
    if not await cancel_job(runtime.kernel.stores.db, document.id):
        current = await get_document(runtime.kernel.stores.db, document.id)
        state = document.state if current is None else current.state
        raise ConflictError(
            f"The ingest job of document '{document.id}' is already {state}; "
            "only a queued or running job can be cancelled (reprocess runs it again).",
            code="job_not_cancellable",
        )
    await runtime.cancel(document.id)  # this replica's run stops now rather than at its step
    await discard_index(runtime, document)
