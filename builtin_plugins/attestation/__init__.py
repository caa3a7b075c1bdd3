"""Attestation: every RedPill answer proven to come from attested hardware; routing gated on it.

RedPill models are attested with our own nonces (legacy report or aci/1 keyset, TDX quote via
Intel DCAP, GPU evidence via NRAS when required) at startup, on a TTL, on a keyset change and
after any failed check (:mod:`.service`); answers are verified per ``response_policy``
(:mod:`.responses`); history goes to SQL (:mod:`.history`); ``GET /api/v1/attestation`` shows
the current status (:mod:`.routes`). Privatemode's proxy attests itself: we report whether it
serves. The trust anchor is injectable (:func:`install_trust`): demo mode installs the
simulator's test root, labelled ``simulated``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from builtin_plugins.attestation.routes import INTERNAL_ROUTES, PUBLIC_ROUTES
from builtin_plugins.attestation.service import service_of
from builtin_plugins.attestation.settings import SECTION, AttestationSettings
from builtin_plugins.attestation.trust import Trust
from builtin_plugins.attestation.verifiers import PrivatemodeVerifier, RedPillVerifier
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import BackgroundTask, RouteSet, SettingsSection, Verifier

__all__ = [
    "PLUGIN_NAME",
    "VERSION",
    "enclava_attestation_verifiers",
    "enclava_background_tasks",
    "enclava_migrations",
    "enclava_routes",
    "enclava_settings_schema",
    "enclava_shutdown",
    "install_trust",
]

PLUGIN_NAME = "attestation"
VERSION = "1.0.0"


def install_trust(kernel: Kernel, trust: Trust | None) -> None:
    """Verify quotes under ``trust`` instead of Intel DCAP (demo mode and tests only; None
    restores DCAP)."""
    service_of(kernel).install_trust(trust)


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[attestation]`` section (``ENCLAVA_ATTESTATION_*``)."""
    return SettingsSection(name=SECTION, schema=AttestationSettings)


@hookimpl
def enclava_migrations() -> str:
    """The folder of the ``attestation_history`` migrations."""
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl(trylast=True)
def enclava_attestation_verifiers(kernel: Kernel) -> Sequence[Verifier]:
    """RedPill and Privatemode verifiers (registered last: other plugins may override)."""
    service = service_of(kernel)
    return [RedPillVerifier(service), PrivatemodeVerifier(kernel, service)]


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> Sequence[BackgroundTask]:
    """Attest at start, then renew and retry every ``retry_seconds``."""
    service = service_of(kernel)
    interval = service.settings().retry_seconds
    return [BackgroundTask(name="attestation", interval=interval, run=service.refresh)]


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    """Public status; admin history and re-verify."""
    return RouteSet(public=list(PUBLIC_ROUTES), internal=list(INTERNAL_ROUTES))


@hookimpl
async def enclava_shutdown(kernel: Kernel) -> None:
    """Stop background re-attestations."""
    await service_of(kernel).close()
