"""Privatemode (EU): confidential inference through its proxy, which attests and encrypts.

The gateway talks plain OpenAI-compatible HTTP to the proxy (``[privatemode] url``, default
``http://127.0.0.1:8080/v1``); health is whether its ``/v1/models`` answers. The list's
``tasks`` (generate, embed, tool_calling, vision, ...) become each model's tasks; models that
can neither generate nor embed are not exposed; full ids listed next to their short form
(``openai/gpt-oss-120b`` and ``gpt-oss-120b``, since proxy v1.28) fold into the short id, the
full one staying usable as an alias. The proxy's own errors (``{"error": {"message", "type":
""}}``, SSE-framed for SSE clients) are normalised; its 401 ``trying API key`` and a 500
``creating request cipher`` naming the API key (``get latest secret: don't have an API key
yet``, or the secret service's ``Unauthorized``) mean the gateway's key is wrong or missing,
never the client's. Any other ``creating request cipher`` 500 (the proxy wraps every failure to
fetch a secret in it: network, TLS, attestation) is an ordinary retryable server error.
"""

from __future__ import annotations

import msgspec

from builtin_plugins.providers.base import HttpProvider
from builtin_plugins.providers.catalog import UpstreamModel, fold_short_ids
from builtin_plugins.providers.runtime import (
    ProviderSpec,
    discovery_tasks,
    provider_regions,
    providers_of,
)
from builtin_plugins.providers.settings import PrivatemodeSettings
from kernel.hookspecs import hookimpl
from kernel.http import HttpClients
from kernel.runtime import Kernel
from kernel.tracing import TracerSource, no_tracer
from kernel.types import BackgroundTask, SettingsSection
from kernel.upstream import Provider

__all__ = [
    "PLUGIN_NAME",
    "SPEC",
    "VERSION",
    "PrivatemodeProvider",
    "enclava_background_tasks",
    "enclava_providers",
    "enclava_settings_schema",
]

PLUGIN_NAME = "privatemode"
VERSION = "1.0.0"
SERVABLE_TASKS = frozenset({"generate", "embed"})
_CIPHER_FAILURE = b"creating request cipher"
_KEY_PROBLEMS = (b"api key", b"unauthorized")


class _Entry(msgspec.Struct):
    id: str
    tasks: list[str] | None = None
    max_model_len: int | None = None


class _ModelList(msgspec.Struct):
    data: list[_Entry]


class PrivatemodeProvider(HttpProvider):
    """The Privatemode proxy; attested by the proxy itself, so no verifier is needed."""

    kind = "privatemode"
    requires_attestation = False

    def __init__(
        self,
        settings: PrivatemodeSettings,
        *,
        api_key: str,
        http: HttpClients,
        tracer: TracerSource = no_tracer,
    ):
        super().__init__(PLUGIN_NAME, settings, api_key=api_key, http=http, tracer=tracer)

    async def _discover(self) -> list[UpstreamModel]:
        listing = await self._get_json("/models", _ModelList)
        models = [
            UpstreamModel(
                id=entry.id,
                tasks=frozenset(entry.tasks if entry.tasks is not None else ("generate",)),
                context_length=entry.max_model_len,
            )
            for entry in listing.data
        ]
        return [model for model in fold_short_ids(models) if model.tasks & SERVABLE_TASKS]

    def _credentials_refused(self, status: int, body: bytes) -> bool:
        """A 500 ``creating request cipher`` caused by the key (none yet, or refused by the
        secret service); other cipher failures (secret service unreachable, attestation) are
        ordinary server errors."""
        if status != 500 or _CIPHER_FAILURE not in body:
            return False
        lowered = body.lower()
        return any(problem in lowered for problem in _KEY_PROBLEMS)


SPEC = ProviderSpec(name=PLUGIN_NAME, schema=PrivatemodeSettings, provider=PrivatemodeProvider)


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[privatemode]`` section (``ENCLAVA_PRIVATEMODE_*``)."""
    return SettingsSection(name=PLUGIN_NAME, schema=PrivatemodeSettings)


@hookimpl
def enclava_providers(kernel: Kernel) -> list[Provider]:
    """The Privatemode provider, unless ``enabled = false``."""
    return providers_of(kernel, SPEC)


@hookimpl
def enclava_provider_regions(kernel: Kernel) -> list[str]:
    """The configured ``region`` (keys may require it even while the provider is off)."""
    return provider_regions(kernel, SPEC)


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> list[BackgroundTask]:
    """Model discovery every ``discovery_interval_seconds`` (first run at start)."""
    return discovery_tasks(kernel, SPEC)
