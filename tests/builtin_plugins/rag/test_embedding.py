"""Embeddings: the local model's vectors, the provider path through the gateway service (under
the collection owner), and sparse term weights."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from builtin_plugins.rag.chunking import load_tokenizer
from builtin_plugins.rag.embedding import (
    EmbeddingError,
    LocalEmbedder,
    provider_embeddings,
    sparse_document,
    sparse_query,
)
from kernel.errors import ModelNotFoundError
from kernel.exchange import Exchange


class Answer(msgspec.Struct):
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = {}


class FakeGateway:
    """Answers embeddings calls like the gateway would, recording each exchange."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.exchanges: list[Exchange] = []
        self._answer = answer
        self._error = error

    async def complete(self, exchange: Exchange, *, key_region: str | None = None) -> Any:
        self.exchanges.append(exchange)
        if self._error is not None:
            raise self._error
        if self._answer is not None:
            return self._answer
        texts = msgspec.json.decode(exchange.body)["input"]
        data = [{"index": i, "embedding": [float(len(t)), 1.0]} for i, t in enumerate(texts)]
        return Answer(200, msgspec.json.encode({"data": list(reversed(data))}))

    async def stream(self, exchange: Exchange, **kw: Any) -> Any:
        raise NotImplementedError


async def test_provider_embeddings_go_through_the_gateway_as_the_owner() -> None:
    gateway = FakeGateway()
    texts = [f"text {n}" * (n + 1) for n in range(100)]
    vectors = await provider_embeddings(gateway, owner_id="u1", model="emb", texts=texts)
    assert vectors == [[float(len(t)), 1.0] for t in texts]  # in order, though sent reversed
    assert len(gateway.exchanges) == 2  # batches of 64
    exchange = gateway.exchanges[0]
    assert (exchange.kind, exchange.endpoint, exchange.model) == (
        "embeddings",
        "/embeddings",
        "emb",
    )
    assert exchange.principal is not None
    assert (exchange.principal.kind, exchange.principal.owner_id) == ("user", "u1")


@pytest.mark.parametrize(
    ("gateway", "reason"),
    [
        (
            FakeGateway(error=ModelNotFoundError("The model 'emb' does not exist.")),
            "does not exist",
        ),
        (
            FakeGateway(Answer(429, b'{"error": {"message": "slow down", "code": "rate"}}')),
            "slow down",
        ),
        (FakeGateway(Answer(200, b'{"data": []}')), "returned 0 vectors"),
        (FakeGateway(Answer(200, b"not json")), "answered badly"),
    ],
)
async def test_provider_failures_raise_never_substitute(gateway: FakeGateway, reason: str) -> None:
    with pytest.raises(EmbeddingError, match=reason):
        await provider_embeddings(gateway, owner_id="u1", model="emb", texts=["a"])


async def test_local_model_vectors_are_normalised_and_meaningful() -> None:
    embedder = LocalEmbedder(threads=1)
    texts = ["A cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell sharply."]
    vectors = await embedder.embed(texts)
    assert all(len(v) == 384 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-3) for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.2
    again = await embedder.embed(list(reversed(texts)))
    assert all(
        math.isclose(cosine(a, b), 1.0, rel_tol=1e-4)
        for a, b in zip(vectors, reversed(again), strict=True)
    )


def test_sparse_weights_saturate_and_skip_special_tokens() -> None:
    tokenizer = load_tokenizer()
    document = sparse_document(tokenizer, "owl owl owl owl mouse")
    weights = dict(zip(document.indices, document.values, strict=True))
    owl = tokenizer.token_to_id("owl")
    mouse = tokenizer.token_to_id("mouse")
    assert weights[mouse] == pytest.approx(1.0)
    assert 1.0 < weights[owl] < 2.2  # tf 4 saturates below k1 + 1
    assert document.indices == sorted(document.indices)
    query = sparse_query(tokenizer, "owl owl")
    assert (query.indices, query.values) == ([owl], [1.0])
    assert sparse_query(tokenizer, "").indices == []
