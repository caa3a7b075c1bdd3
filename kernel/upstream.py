"""Contracts on the model side: providers, the models they serve, the calls made to them and
the attestation verifiers that vouch for their answers.

A provider plugin returns :class:`Provider` objects; an attestation plugin returns
:class:`Verifier` objects; the llm plugin's router and pipeline use both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from kernel.types import Principal

__all__ = [
    "AttestationStatus",
    "Endpoint",
    "HttpUpstream",
    "ModelInfo",
    "ModelPrice",
    "Provider",
    "ResponseEvidence",
    "ResponsePolicy",
    "UpstreamCall",
    "UpstreamResult",
    "Verifier",
]

Endpoint = Literal["/chat/completions", "/embeddings"]


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's list price: ``currency`` units per million input and output tokens."""

    input_per_million: Decimal
    output_per_million: Decimal
    currency: str = "USD"


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A model one provider serves, under the public id clients use."""

    id: str
    provider: str
    upstream_id: str
    region: str
    tasks: frozenset[str] = frozenset({"generate"})
    confidential: bool = True
    owned_by: str = "enclava"
    context_length: int | None = None
    pricing: ModelPrice | None = None
    """The price the provider's own model list states, when it states one."""


class UpstreamCall(msgspec.Struct, frozen=True, kw_only=True):
    """One request to a provider: the exact bytes to send and what they are for."""

    endpoint: Endpoint
    body: bytes
    stream: bool
    model: ModelInfo
    request_id: str
    evidence: dict[str, Any] = {}
    """Filled by the provider while it answers (e.g. response headers a verifier needs)."""


class UpstreamResult(msgspec.Struct, kw_only=True):
    """A complete (non-streamed) provider answer, bytes untouched.

    ``evidence`` carries what verification needs (e.g. RedPill's chat id and the exact request
    and response bytes); it never reaches the client.
    """

    status: int
    body: bytes
    content_type: str = "application/json"
    retry_after: float | None = None
    evidence: dict[str, Any] = {}


@runtime_checkable
class Provider(Protocol):
    """An inference provider adapter.

    ``send``/``stream`` raise :class:`~kernel.errors.UpstreamError` (``retryable`` for connect
    errors, timeouts, 429 and 5xx) and return/yield anything else the provider answered.
    ``healthy`` reflects the last model discovery; ``requests_per_minute`` (None = unlimited) and
    ``max_retries`` are enforced by the router.
    """

    name: str
    kind: str
    region: str
    priority: int
    confidential: bool
    requires_attestation: bool
    max_retries: int
    requests_per_minute: int | None

    @property
    def healthy(self) -> bool:
        """False while the provider's model list cannot be fetched."""
        ...

    @property
    def problem(self) -> str | None:
        """Why the provider is unhealthy, without its URL (clients may see it); None when
        healthy."""
        ...

    async def list_models(self) -> Sequence[ModelInfo]:
        """Models currently served (the router filters and unions them)."""
        ...

    async def send(self, call: UpstreamCall) -> UpstreamResult:
        """Send a non-streaming call and return the whole answer."""
        ...

    def stream(self, call: UpstreamCall) -> AsyncIterator[bytes]:
        """Send a streaming call; yields raw SSE bytes as received."""
        ...


@runtime_checkable
class HttpUpstream(Protocol):
    """A :class:`Provider` reached over HTTP: where it answers and with which key, so that an
    attestation verifier fetches the provider's evidence from the very origin prompts go to."""

    @property
    def base_url(self) -> str:
        """The configured OpenAI-compatible base URL (ending in ``/v1``)."""
        ...

    @property
    def api_key(self) -> str:
        """The key the provider sends (``""`` when none is configured)."""
        ...


class AttestationStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A verifier's current verdict for one provider model; ``label`` goes into
    ``x-enclava-attestation`` (e.g. ``verified``, ``simulated``)."""

    valid: bool
    label: str
    reason: str = ""


ResponsePolicy = Literal["off", "async", "strict_trailer", "strict"]
"""Per-response verification: none; verified right after the client got it; a stream's content
flows but its ``[DONE]`` waits for verification; or nothing is released before it."""


class ResponseEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """What one provider answer is verified against: the exact bytes sent and received."""

    provider: str
    model: ModelInfo
    request_id: str
    stream: bool
    request_body: bytes
    response_body: bytes
    """The whole JSON answer, or every raw SSE byte of a stream (``[DONE]`` included)."""
    evidence: dict[str, Any] = {}
    """What the provider recorded while answering (``UpstreamCall.evidence``)."""


@runtime_checkable
class Verifier(Protocol):
    """Attestation verdicts for one provider kind, answered from memory (refreshed elsewhere).

    The router never sends prompts to a provider whose ``requires_attestation`` is true unless a
    verifier of its kind says the model's attestation is valid. ``response_policy`` decides
    whether answers are verified (``verify_response``) and whether the client waits for it.
    """

    provider_kind: str

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        """The verdict for ``model`` served by ``provider``."""
        ...

    def response_policy(self, principal: Principal | None) -> ResponsePolicy:
        """How answers for ``principal`` are verified (deployment default, key override)."""
        ...

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        """Whether the answer came from the attested key; never raises (invalid + reason)."""
        ...
