"""A gateway whose RedPill attestations are really verified, under the simulator's test root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from support.gateway import Env, Gateway, gateway_factory
from support.identity import admin_headers

from builtin_plugins.attestation import install_trust
from builtin_plugins.attestation.settings import SECTION, AttestationSettings
from builtin_plugins.attestation.trust import simulated_trust
from builtin_plugins.simulators.redpill_models import CATALOG
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel


class SimulatedRoot:
    """Installs the simulator's test root as the trust anchor at startup."""

    PLUGIN_NAME = "simulated_root"

    @hookimpl
    def enclava_startup(self, kernel: Kernel) -> None:
        install_trust(
            kernel, simulated_trust(kernel.settings.section(SECTION, AttestationSettings))
        )


Attested = Callable[..., contextlib.AbstractAsyncContextManager[Env]]


@pytest.fixture
def attested_gateway(make_settings: Any, sqlite_url: str) -> Attested:
    """``async with attested_gateway(**ENCLAVA_env) as env``: RedPill attested for real."""
    gateway: Gateway = gateway_factory(make_settings, sqlite_url)

    @contextlib.asynccontextmanager
    async def run(**env: str) -> AsyncIterator[Env]:
        env = {"ENCLAVA_ATTESTATION_RETRY_SECONDS": "0.2", **env}
        async with gateway(trust=False, extra=(SimulatedRoot(),), **env) as running:
            await until_attested(running)
            yield running

    return run


def origin(env: Env) -> str:
    return env.base_url.removesuffix("/api/v1")


async def statuses(env: Env) -> list[dict[str, Any]]:
    """``GET /api/v1/attestation`` with the gateway's key."""
    async with httpx.AsyncClient(base_url=origin(env)) as client:
        response = await client.get(
            "/api/v1/attestation", headers={"authorization": f"Bearer {env.key}"}
        )
        assert response.status_code == 200, response.text
        return list(response.json()["data"])


NEVER_ATTESTED = frozenset(m.id for m in CATALOG if m.report_shape in ("tinfoil", "chutes"))
"""The simulator's Tinfoil and Chutes models: their evidence binds no signing key (nor our
nonce), so the legacy scheme refuses them for good."""


def attestable(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The RedPill entries of ``entries`` whose model can attest (:data:`NEVER_ATTESTED` left
    out)."""
    return [e for e in entries if e["provider"] == "redpill" and e["model"] not in NEVER_ATTESTED]


async def redpill_statuses(env: Env) -> list[dict[str, Any]]:
    """The status of every RedPill model that can attest."""
    return attestable(await statuses(env))


async def until_attested(env: Env, *, valid: bool = True) -> list[dict[str, Any]]:
    """Wait until every RedPill model that can attest is (or, with ``valid=False``, none is)
    attested; the ones that never can (:data:`NEVER_ATTESTED`) are left out."""
    found: list[dict[str, Any]] = []
    for _ in range(250):
        found = await redpill_statuses(env)
        if found and all(s["verified"] is valid for s in found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"attestation never became {valid}: {found}")


async def admin(env: Env, method: str, path: str, **options: Any) -> httpx.Response:
    """An admin call on the internal API."""
    async with httpx.AsyncClient(base_url=origin(env), timeout=20) as client:
        headers = await admin_headers(env.app, client)
        return await client.request(method, f"/api-internal/v1{path}", headers=headers, **options)
