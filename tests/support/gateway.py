"""A running gateway in front of both simulated providers, with an API key, for SDK tests.

Used by tests/builtin_plugins/llm (fixture ``gateway``).

RedPill needs a valid attestation before it gets prompts; the inline ``TrustSimulator`` verifier
stands in for issue #6's verifiers (it trusts the simulator and labels itself ``simulated``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import msgspec
import openai
from litestar import Litestar

from builtin_plugins.simulators.keys import TEST_API_KEY
from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator
from kernel.app import create_app
from kernel.hookspecs import hookimpl
from kernel.plugins import PluginManager
from kernel.runtime import Kernel
from kernel.types import Principal
from kernel.upstream import AttestationStatus, ModelInfo, ResponseEvidence, ResponsePolicy
from support.identity import admin_headers
from support.server import serving

SHARED = "gpt-oss-120b"
"""Served by both: Privatemode natively (priority 10), RedPill through an alias (priority 20)."""
REDPILL_ONLY = "phala/qwen-2.5-7b-instruct"
EMBEDDING = "qwen3-embedding-4b"


class SimVerifier:
    provider_kind = "redpill"

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        return AttestationStatus(valid=True, label="simulated")

    def response_policy(self, principal: Principal | None) -> ResponsePolicy:
        return "off"

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        return AttestationStatus(valid=False, label="simulated", reason="not verified")


class TrustSimulator:
    PLUGIN_NAME = "trust_simulator"

    @hookimpl
    def enclava_attestation_verifiers(self, kernel: Kernel) -> list[SimVerifier]:
        return [SimVerifier()]


class Env(msgspec.Struct):
    base_url: str
    key: str
    privatemode: SimulatorHandle
    redpill: SimulatorHandle
    kernel: Kernel
    app: Litestar

    def client(self, key: str | None = None, **options: Any) -> openai.AsyncOpenAI:
        """An SDK client with the gateway's first key, or with ``key``."""
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=key or self.key,
            max_retries=0,
            timeout=20.0,
            **options,
        )

    async def new_key(self, **fields: Any) -> str:
        """Another key, created by a new admin through the internal API with ``fields``."""
        return await _api_key(self.app, self.base_url.removesuffix("/api/v1"), **fields)

    def sync_client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=self.key, max_retries=0, timeout=20)


def provider_env(kind: str, sim: SimulatorHandle, **fields: str) -> dict[str, str]:
    """``ENCLAVA_<KIND>_*`` for a provider pointed at simulator ``sim`` (``fields`` override)."""
    values = {
        "ENABLED": "true",
        "URL": sim.base_url,
        "API_KEY": TEST_API_KEY,
        "CONNECT_TIMEOUT": "2",
        "READ_TIMEOUT": "2",
        "FIRST_BYTE_TIMEOUT": "2",
        "IDLE_CHUNK_TIMEOUT": "1",
        **fields,
    }
    return {f"ENCLAVA_{kind.upper()}_{k}": v for k, v in values.items()}


async def _api_key(app: Litestar, base: str, **fields: Any) -> str:
    async with httpx.AsyncClient(base_url=base) as client:
        headers = await admin_headers(app, client)
        response = await client.post(
            "/api-internal/v1/api-keys", headers=headers, json={"name": "sdk", **fields}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["key"])


async def _until_discovered(kernel: Kernel) -> None:
    for _ in range(300):
        providers = kernel.components.providers
        lists = [await p.list_models() for p in providers if p.healthy]
        if len(providers) == 2 and len(lists) == 2 and all(lists):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("providers never discovered their models")


Gateway = Callable[..., contextlib.AbstractAsyncContextManager[Env]]


def gateway_factory(
    make_settings: Callable[..., Any], database_url: str, *, redis_prefix: str | None = None
) -> Gateway:
    """``async with gateway(trust=True, extra=(plugins...), **ENCLAVA_env) as env``: the app
    served on loopback, on Redis under ``redis_prefix`` when given (else the in-process KV)."""

    @contextlib.asynccontextmanager
    async def run(
        *, trust: bool = True, extra: Sequence[object] = (), **env: str
    ) -> AsyncIterator[Env]:
        async with (
            running_simulator("privatemode") as pm,
            running_simulator("redpill") as rp,
        ):
            settings = make_settings(
                database_url,
                redis_prefix=redis_prefix,
                **provider_env("privatemode", pm),
                **provider_env("redpill", rp, ALIASES=f'{{"{SHARED}": "phala/gpt-oss-120b"}}'),
                ENCLAVA_LLM_BACKOFF_INITIAL_SECONDS="0.01",
                ENCLAVA_LLM_BACKOFF_MAX_SECONDS="0.05",
                **env,
            )
            plugins = PluginManager(extra=[*([TrustSimulator()] if trust else []), *extra])
            app = create_app(settings, plugins=plugins)
            async with serving(app) as base:
                key = await _api_key(app, base)
                await _until_discovered(app.state.kernel)
                yield Env(f"{base}/api/v1", key, pm, rp, app.state.kernel, app)

    return run
