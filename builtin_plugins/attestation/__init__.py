"""Attestation: every RedPill answer proven to come from attested hardware; routing gated on it.

RedPill models are attested with our own nonces (legacy report in any shape RedPill serves,
:mod:`.report_shapes`, or aci/1 keyset; TDX quote via Intel DCAP, GPU evidence via NRAS when
required) at startup, on a TTL, on a keyset change and after any failed check (:mod:`.service`);
an aci/1 keyset's TLS keys pin the provider's connections (:mod:`.pinning`); answers are
verified per ``response_policy`` (:mod:`.responses`); a quote is trusted only when the trust
policy allows the workload it measures (:mod:`.policy`: MRTD, RTMRs, dstack app; rules from
settings, the anchor and admins, :mod:`.routes_trust`); history goes to SQL (:mod:`.history`);
``GET /api/v1/attestation`` shows the current status (:mod:`.routes`, :mod:`.overview`).
Privatemode's proxy attests itself: we report whether it serves. The trust anchor is injectable
(:func:`install_trust`): demo mode switches to the simulator's test root through the
``SimulatedTrust`` service, labelled ``simulated``, verified by our own parser
(:mod:`.simulated_quotes`): nothing here imports the simulators. Published services:
``AttestationOverview`` and ``SimulatedTrust`` (:mod:`kernel.services`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from builtin_plugins.attestation.cli import attestation_command
from builtin_plugins.attestation.extra_roots import read_roots
from builtin_plugins.attestation.overview import Overview
from builtin_plugins.attestation.routes import INTERNAL_ROUTES, PUBLIC_ROUTES
from builtin_plugins.attestation.routes_trust import TRUST_ROUTES
from builtin_plugins.attestation.service import service_of
from builtin_plugins.attestation.settings import SECTION, AttestationSettings
from builtin_plugins.attestation.trust import Trust
from builtin_plugins.attestation.verifiers import PrivatemodeVerifier, RedPillVerifier
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import AttestationOverview, Service, SimulatedTrust
from kernel.types import BackgroundTask, CliCommand, RouteSet, SettingsSection
from kernel.upstream import Verifier

__all__ = [
    "PLUGIN_NAME",
    "VERSION",
    "enclava_attestation_verifiers",
    "enclava_background_tasks",
    "enclava_cli",
    "enclava_migrations",
    "enclava_routes",
    "enclava_services",
    "enclava_settings_schema",
    "enclava_shutdown",
    "enclava_startup",
    "install_trust",
]

log = logging.getLogger(__name__)
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
    return [RedPillVerifier(kernel, service), PrivatemodeVerifier(kernel, service)]


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> Sequence[BackgroundTask]:
    """Attest at start, then renew and retry every ``retry_seconds``."""
    service = service_of(kernel)
    interval = service.settings().retry_seconds
    return [BackgroundTask(name="attestation", interval=interval, run=service.refresh)]


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    """Public status; admin history, re-verify and the trust policy."""
    return RouteSet(public=list(PUBLIC_ROUTES), internal=[*INTERNAL_ROUTES, *TRUST_ROUTES])


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    """The current verdicts (``AttestationOverview``) and demo mode's switch to the simulator's
    test root (``SimulatedTrust``)."""
    return [
        Service(contract=AttestationOverview, implementation=Overview(kernel)),
        Service(contract=SimulatedTrust, implementation=service_of(kernel)),
    ]


@hookimpl
def enclava_cli(kernel: Kernel) -> Sequence[CliCommand]:
    """``enclava attestation measure MODEL``."""
    return [attestation_command(kernel)]


@hookimpl
def enclava_startup(kernel: Kernel) -> None:
    """Read ``extra_roots_file`` now (a bad one stops the boot) and say loudly it is in force."""
    settings = service_of(kernel).settings()
    if settings.extra_roots_file and settings.allow_test_roots:
        roots = read_roots(settings.extra_roots_file)
        log.warning(
            "TEST ROOTS TRUSTED: %d simulator root(s) from %s besides Intel DCAP; answers are "
            "labelled 'test-root', nothing attested under them is confidential",
            len(roots),
            settings.extra_roots_file,
        )


@hookimpl
async def enclava_shutdown(kernel: Kernel) -> None:
    """Stop background re-attestations."""
    await service_of(kernel).close()
