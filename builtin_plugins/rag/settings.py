"""The ``[rag]`` settings section: upload size cap, ingest concurrency, default embeddings."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["EmbeddingKind", "RagSettings"]

EmbeddingKind = Literal["local", "provider"]


class RagSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``[rag]``.

    ``max_upload_bytes`` caps each uploaded file (a larger one fails the request with 413);
    ``max_files_per_upload`` caps the files of one request. ``ingest_concurrency`` is how many
    documents one replica extracts, chunks and embeds at once; ``embedding_threads`` bounds the
    threads the local ONNX model uses. ``default_embedding`` is the kind a collection gets when
    its creator names none: ``local`` (all-MiniLM-L6-v2 in process, documents never leave the
    machine) or ``provider`` (``default_embedding_model`` through the gateway).
    """

    max_upload_bytes: int = 20 * 1024 * 1024
    max_files_per_upload: int = 20
    ingest_concurrency: int = 2
    embedding_threads: int = 1
    default_embedding: EmbeddingKind = "local"
    default_embedding_model: str = ""

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1024:
            raise ValueError("max_upload_bytes must be at least 1024")
        if not 1 <= self.max_files_per_upload <= 1000:
            raise ValueError("max_files_per_upload must be between 1 and 1000")
        if not 1 <= self.ingest_concurrency <= 64:
            raise ValueError("ingest_concurrency must be between 1 and 64")
        if not 1 <= self.embedding_threads <= 64:
            raise ValueError("embedding_threads must be between 1 and 64")
        if self.default_embedding == "provider" and not self.default_embedding_model:
            raise ValueError("default_embedding = 'provider' needs default_embedding_model")
