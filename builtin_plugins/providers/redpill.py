"""RedPill (US): OpenAI-compatible inference, exposing only models served in confidential TEEs.

Used only when ``[redpill] enabled`` (the default) and a key is configured (``api_key`` /
``ENCLAVA_REDPILL_API_KEY`` or ``api_key_file``); without a key the plugin contributes nothing.
Discovery reads ``/v1/models`` and ``/v1/embeddings/models`` and keeps an entry only when
``is_tee`` is true AND one of RedPill's confidential upstreams serves it (Phala, NEAR AI,
Tinfoil, Chutes: :data:`CONFIDENTIAL_UPSTREAMS`; any other or ordinary model is never exposed),
intersected with ``model_allowlist``; the RedPill id is the upstream id. Being discovered is not
being offered: the attestation plugin verifies each model's evidence, and a model is routed
and listed at ``/v1/models`` only while it verifies (Tinfoil and Chutes evidence cannot be bound
to answers today, so theirs are refused with the missing evidence named). Each entry's
``pricing`` (USD per token, strings) becomes ``ModelInfo.pricing`` per million tokens, exactly
(Decimal). RedPill signs each exchange over the exact bytes, so every
non-streamed answer carries ``evidence`` for the attestation verifier: chat and receipt ids,
both bodies and their SHA-256. Streams are relayed untouched; for every 2xx answer, streams
included, ``call.evidence`` records ``receipt_id`` (``X-Receipt-Id``) and ``keyset_digest``
(``X-ACI-Keyset-Digest``). Every request body asks for a verified TEE upstream
(``"provider": {"aci_verified": true}``, private-ai-gateway spec §5.3) unless it already does,
so RedPill refuses an unattested upstream before the prompt leaves it; the bytes actually sent
are recorded as ``call.evidence["sent_body"]`` (the signatures cover them).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from multidict import CIMultiDictProxy

from builtin_plugins.providers.base import DiscoveryError, HttpProvider
from builtin_plugins.providers.catalog import UpstreamModel
from builtin_plugins.providers.runtime import (
    ProviderSpec,
    discovery_tasks,
    provider_regions,
    providers_of,
)
from builtin_plugins.providers.settings import RedPillSettings
from kernel.hookspecs import hookimpl
from kernel.http import HttpClients
from kernel.runtime import Kernel
from kernel.tracing import TracerSource, no_tracer
from kernel.types import BackgroundTask, SettingsSection
from kernel.upstream import ModelPrice, Provider, UpstreamCall, UpstreamResult

__all__ = [
    "PLUGIN_NAME",
    "SPEC",
    "VERSION",
    "RedPillProvider",
    "confidential_tee",
    "enclava_background_tasks",
    "enclava_providers",
    "enclava_settings_schema",
]

PLUGIN_NAME = "redpill"
VERSION = "1.0.0"
CONFIDENTIAL_UPSTREAMS = frozenset({"phala", "near-ai", "nearai", "tinfoil", "chutes"})
"""The TEE upstreams RedPill serves confidential models from (docs.redpill.ai "Confidential AI
models": Phala, NEAR AI, Tinfoil, Chutes; ``near-ai`` as redpill-gateway ``src/providers/``
spells it, ``nearai`` as the model ids do)."""


class _Pricing(msgspec.Struct):
    prompt: str | float | None = None
    completion: str | float | None = None


class _Entry(msgspec.Struct):
    id: str
    pricing: _Pricing | None = None
    is_tee: bool | None = None
    providers: list[Any] | None = None
    context_length: int | None = None
    supported_parameters: list[Any] | None = None
    input_modalities: list[Any] | None = None


class _ModelList(msgspec.Struct):
    data: list[_Entry]


class _Identified(msgspec.Struct):
    id: str | None = None


def confidential_tee(entry: _Entry) -> bool:
    """Whether RedPill serves ``entry`` inside a confidential upstream's TEE (both signals
    required: ``is_tee`` and a provider of :data:`CONFIDENTIAL_UPSTREAMS`)."""
    if entry.is_tee is not True:
        return False
    return any(isinstance(p, str) and p in CONFIDENTIAL_UPSTREAMS for p in entry.providers or ())


def _price(entry: _Entry) -> ModelPrice | None:
    """The entry's USD-per-token prices as per-million prices, exact; None when absent or bad."""
    pricing = entry.pricing
    if pricing is None or pricing.prompt is None or pricing.completion is None:
        return None
    try:
        prompt, completion = Decimal(str(pricing.prompt)), Decimal(str(pricing.completion))
    except InvalidOperation:
        return None
    if not (prompt.is_finite() and completion.is_finite()) or min(prompt, completion) < 0:
        return None
    million = Decimal(1_000_000)
    return ModelPrice(
        input_per_million=(prompt * million).normalize(),
        output_per_million=(completion * million).normalize(),
        currency="USD",
    )


def _chat_tasks(entry: _Entry) -> frozenset[str]:
    tasks = {"generate"}
    if "tools" in (entry.supported_parameters or ()):
        tasks.add("tool_calling")
    if "image" in (entry.input_modalities or ()):
        tasks.add("vision")
    return frozenset(tasks)


class RedPillProvider(HttpProvider):
    """RedPill's API; its attestation must be verified before it gets prompts."""

    kind = "redpill"
    requires_attestation = True

    def __init__(
        self,
        settings: RedPillSettings,
        *,
        api_key: str,
        http: HttpClients,
        tracer: TracerSource = no_tracer,
    ):
        super().__init__(PLUGIN_NAME, settings, api_key=api_key, http=http, tracer=tracer)
        self._ids = msgspec.json.Decoder(_Identified)

    async def _discover(self) -> list[UpstreamModel]:
        chat = await self._get_json("/models", _ModelList)
        try:
            embedding = (await self._get_json("/embeddings/models", _ModelList)).data
        except DiscoveryError as exc:
            if exc.status != 404:
                raise
            embedding = []
        models = [
            UpstreamModel(
                id=e.id, tasks=_chat_tasks(e), context_length=e.context_length, pricing=_price(e)
            )
            for e in chat.data
            if confidential_tee(e)
        ]
        models += [
            UpstreamModel(
                id=e.id,
                tasks=frozenset({"embed"}),
                context_length=e.context_length,
                pricing=_price(e),
            )
            for e in embedding
            if confidential_tee(e)
        ]
        return models

    async def send(self, call: UpstreamCall) -> UpstreamResult:
        """POST the body with ``aci_verified`` required."""
        return await super().send(_verified_upstream(call))

    async def stream(self, call: UpstreamCall) -> AsyncIterator[bytes]:
        """Stream the body with ``aci_verified`` required."""
        async for chunk in super().stream(_verified_upstream(call)):
            yield chunk

    def _note_headers(self, call: UpstreamCall, headers: CIMultiDictProxy[str]) -> None:
        """The receipt id and aci/1 keyset digest of the answer (streams included)."""
        for name, key in (("X-Receipt-Id", "receipt_id"), ("X-ACI-Keyset-Digest", "keyset_digest")):
            value = headers.get(name)
            if value:
                call.evidence[key] = value

    def _accepted(
        self, call: UpstreamCall, status: int, body: bytes, headers: CIMultiDictProxy[str]
    ) -> UpstreamResult:
        try:
            chat_id = self._ids.decode(body).id
        except msgspec.DecodeError:
            raise self.malformed(status) from None
        evidence = {
            "chat_id": chat_id,
            "receipt_id": headers.get("X-Receipt-Id"),
            "request_sha256": hashlib.sha256(call.body).hexdigest(),
            "response_sha256": hashlib.sha256(body).hexdigest(),
            "request_body": call.body,
            "response_body": body,
        }
        return UpstreamResult(status=status, body=body, evidence=evidence)


_ACI_VERIFIED = b'"provider":{"aci_verified":true},'


def with_aci_verified(body: bytes) -> bytes:
    """``body`` requiring a verified TEE upstream; unchanged bytes when it already does."""
    try:
        document = msgspec.json.decode(body, type=dict[str, Any])
    except msgspec.DecodeError:
        return body
    provider = document.get("provider")
    if provider is None and "provider" not in document:
        if not document:
            return b"{" + _ACI_VERIFIED[:-1] + b"}"
        start = body.index(b"{") + 1
        return body[:start] + _ACI_VERIFIED + body[start:]
    if isinstance(provider, dict) and provider.get("aci_verified") is True:
        return body
    options = provider if isinstance(provider, dict) else {}
    document["provider"] = {**options, "aci_verified": True}
    return msgspec.json.encode(document)


def _verified_upstream(call: UpstreamCall) -> UpstreamCall:
    sent = msgspec.structs.replace(call, body=with_aci_verified(call.body))
    call.evidence["sent_body"] = sent.body
    return sent


def _active(settings: RedPillSettings) -> bool:
    return settings.enabled and settings.has_key


SPEC = ProviderSpec(
    name=PLUGIN_NAME, schema=RedPillSettings, provider=RedPillProvider, active=_active
)


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[redpill]`` section (``ENCLAVA_REDPILL_*``)."""
    return SettingsSection(name=PLUGIN_NAME, schema=RedPillSettings)


@hookimpl
def enclava_providers(kernel: Kernel) -> list[Provider]:
    """The RedPill provider when enabled and a key is configured."""
    return providers_of(kernel, SPEC)


@hookimpl
def enclava_provider_regions(kernel: Kernel) -> list[str]:
    """The configured ``region`` (keys may require it even while the provider is off)."""
    return provider_regions(kernel, SPEC)


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> list[BackgroundTask]:
    """Model discovery every ``discovery_interval_seconds`` (first run at start)."""
    return discovery_tasks(kernel, SPEC)
