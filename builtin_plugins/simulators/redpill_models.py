"""The RedPill simulator's model catalog, shaped as docs.redpill.ai / docs.phala.com describe it.

``GET /v1/models`` returns ``{"data": [...]}`` (no top-level ``object``; entries carry no
``object``/``owned_by`` either), each entry with ``name``, ``created``, ``is_tee``,
``description``, ``context_length``, ``max_output_length``, ``pricing`` (USD per token, as
strings), ``providers``, ``input_modalities``, ``output_modalities``, ``supported_parameters``
and ``metadata`` (Phala docs "List Models"; redpill-ai/redpill-gateway ``modelService.ts``).
Embedding models are listed only at ``GET /v1/embeddings/models`` (``{"object": "list",
"data": [...]}``, Phala docs "List Embedding Models"); the docs show no ``is_tee`` there, the
simulator adds ``is_tee`` and ``providers`` so a gateway can apply the same TEE filter.

The catalog mixes what a gateway must serve and what it must refuse: Phala-served TEE models,
TEE models of the other confidential upstreams RedPill routes to (``near-ai``, ``tinfoil``,
``chutes``; redpill-ai/redpill-gateway ``src/providers/``), and ordinary non-TEE models.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = ["CATALOG", "RedPillModel", "find_model"]

CREATED = 1_735_689_600
CONFIDENTIAL_UPSTREAMS = ("phala", "near-ai", "tinfoil", "chutes")
CHAT_PARAMETERS = ("max_tokens", "temperature", "tools", "tool_choice", "response_format", "stop")


class RedPillModel(msgspec.Struct, frozen=True, kw_only=True):
    """One catalog entry."""

    id: str
    name: str
    is_tee: bool
    providers: tuple[str, ...]
    prompt_price: str
    completion_price: str
    context_length: int
    kind: Literal["chat", "embedding"] = "chat"
    dimensions: int = 0
    description: str = ""

    @property
    def report_shape(self) -> str:
        """The ``/v1/attestation/report`` shape RedPill serves for this model: ``two-layer``
        (Phala, NEAR AI: the gateway's attestation and the model's, with the flat fields too),
        ``tinfoil``, ``chutes``; ``flat`` otherwise."""
        upstream = self.providers[0] if self.is_tee and self.providers else ""
        shapes = {"phala": "two-layer", "near-ai": "two-layer", "tinfoil": "tinfoil"}
        return shapes.get(upstream, "chutes" if upstream == "chutes" else "flat")

    @property
    def confidential(self) -> bool:
        """TEE and served by one of RedPill's confidential upstreams (Phala, NEAR AI, Tinfoil,
        Chutes): RedPill itself treats its upstream as verified (``aci_verified``)."""
        return self.is_tee and any(p in CONFIDENTIAL_UPSTREAMS for p in self.providers)

    def entry(self) -> dict[str, Any]:
        """The catalog JSON of this model."""
        chat = self.kind == "chat"
        entry: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "created": CREATED,
            "is_tee": self.is_tee,
            "description": self.description,
            "context_length": self.context_length,
            "max_output_length": self.context_length if chat else 4096,
            "pricing": {"prompt": self.prompt_price, "completion": self.completion_price},
            "providers": list(self.providers),
            "input_modalities": ["text"],
            "output_modalities": ["text"] if chat else ["embeddings"],
            "supported_parameters": list(CHAT_PARAMETERS) if chat else [],
            "metadata": {},
        }
        return entry


CATALOG: tuple[RedPillModel, ...] = (
    RedPillModel(
        id="phala/qwen-2.5-7b-instruct",
        name="Qwen2.5 7B Instruct",
        is_tee=True,
        providers=("phala",),
        prompt_price="0.00000004",
        completion_price="0.0000001",
        context_length=32768,
        description="SIMULATED Qwen model in a Phala GPU TEE",
    ),
    RedPillModel(
        id="phala/gpt-oss-120b",
        name="gpt-oss 120B",
        is_tee=True,
        providers=("phala",),
        prompt_price="0.0000001",
        completion_price="0.00000049",
        context_length=131072,
        description="SIMULATED gpt-oss model in a Phala GPU TEE",
    ),
    RedPillModel(
        id="moonshotai/kimi-k2.5",
        name="Kimi K2.5",
        is_tee=True,
        providers=("chutes",),
        prompt_price="0.0000006",
        completion_price="0.0000025",
        context_length=262144,
        description="SIMULATED TEE model served by another provider (not Phala)",
    ),
    RedPillModel(
        id="nearai/deepseek-v3.1",
        name="DeepSeek V3.1 (NEAR AI)",
        is_tee=True,
        providers=("near-ai",),
        prompt_price="0.000001",
        completion_price="0.0000025",
        context_length=131072,
        description="SIMULATED TEE model served by NEAR AI Cloud (two-layer attestation)",
    ),
    RedPillModel(
        id="tinfoil/llama3-3-70b",
        name="Llama 3.3 70B (Tinfoil)",
        is_tee=True,
        providers=("tinfoil",),
        prompt_price="0.0000007",
        completion_price="0.0000007",
        context_length=65536,
        description="SIMULATED TEE model served by Tinfoil (quote without a signing key)",
    ),
    RedPillModel(
        id="openai/gpt-4o",
        name="GPT-4o",
        is_tee=False,
        providers=("openai",),
        prompt_price="0.0000025",
        completion_price="0.00001",
        context_length=128000,
        description="SIMULATED non-TEE model (ordinary commercial API)",
    ),
    RedPillModel(
        id="anthropic/claude-sonnet-4.5",
        name="Claude Sonnet 4.5",
        is_tee=False,
        providers=("anthropic",),
        prompt_price="0.000003",
        completion_price="0.000015",
        context_length=200000,
        description="SIMULATED non-TEE model (ordinary commercial API)",
    ),
    RedPillModel(
        id="qwen/qwen3-embedding-8b",
        name="Qwen3 Embedding 8B",
        is_tee=True,
        providers=("phala",),
        prompt_price="0.00000001",
        completion_price="0",
        context_length=32768,
        kind="embedding",
        dimensions=4096,
        description="SIMULATED embedding model in a Phala GPU TEE",
    ),
)


def find_model(model_id: object) -> RedPillModel | None:
    """The catalog entry named ``model_id``."""
    return next((m for m in CATALOG if m.id == model_id), None)
