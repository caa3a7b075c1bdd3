"""``enclava attestation measure MODEL``: what a RedPill model presents, to review before trusting.

Attests ``MODEL`` once with a fresh nonce under the configured anchor (Intel DCAP, plus test
roots where allowed) and prints the workload its genuine quote measures, as a JSON trust rule
ready for ``POST /api-internal/v1/attestation/trust``. It makes no trust decision: whether the
workload is allowed is for the admin to decide. Exit 1 when no genuine quote was obtained.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import msgspec

from builtin_plugins.attestation.attester import Attester, Target
from builtin_plugins.attestation.policy import TrustRule, Workload
from builtin_plugins.attestation.settings import SECTION, AttestationSettings
from builtin_plugins.attestation.trust import production_trust
from builtin_plugins.attestation.upstream import EvidenceClient
from kernel.errors import ConfigError
from kernel.http import HttpClients
from kernel.runtime import Kernel
from kernel.types import CliCommand
from kernel.upstream import HttpUpstream

__all__ = ["attestation_command"]


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="attestation_action", required=True, metavar="ACTION")
    measure = actions.add_parser("measure", help="Print what a RedPill model's quote measures.")
    measure.add_argument("model", help="the upstream model id, e.g. phala/qwen-2.5-7b-instruct")
    measure.add_argument("--url", help="the provider's API URL (default: [redpill] url)")
    # Read by the kernel's pre-parser; declared here so the subcommand accepts it.
    measure.add_argument("--config", metavar="FILE", help="TOML settings file")


def _target(kernel: Kernel, args: argparse.Namespace) -> Target:
    """``MODEL`` at the configured RedPill provider (``--url`` overrides its URL); ConfigError
    when no RedPill provider is configured and no ``--url`` is given."""
    providers = kernel.plugins.collect("enclava_providers", kernel.plugins.names, kernel=kernel)
    redpill = next(
        (
            p
            for _, found in providers
            for p in found
            if p.kind == "redpill" and isinstance(p, HttpUpstream)
        ),
        None,
    )
    if redpill is None and not args.url:
        raise ConfigError(
            "no RedPill provider is configured (set ENCLAVA_REDPILL_API_KEY or [redpill] "
            "api_key_file), or pass --url"
        )
    url = args.url or (redpill.base_url if redpill else "")
    api_key = redpill.api_key if redpill else ""
    return Target(provider="redpill", model=args.model, url=url, api_key=api_key)


async def _measure(kernel: Kernel, args: argparse.Namespace) -> int:
    settings = kernel.settings.section(SECTION, AttestationSettings)
    target = _target(kernel, args)
    http = HttpClients()
    try:
        client = EvidenceClient(http, settings.timeout_seconds)
        verdict = await Attester(client).attest(
            target, trust=production_trust(settings), settings=settings
        )
    finally:
        await http.close()
    if not verdict.measurements:
        print(f"enclava: no genuine quote from {target.url}: {verdict.reason}", file=sys.stderr)
        return 1
    rule = TrustRule(
        provider="redpill",
        models=args.model,
        accepted_tcb_statuses=[verdict.tcb_status],
        workloads=[Workload(**verdict.measurements)],
    )
    print(msgspec.json.format(msgspec.json.encode(rule)).decode())
    print(f"# TCB {verdict.tcb_status}; review before allowing; no trust decision made")
    return 0


def attestation_command(kernel: Kernel) -> CliCommand:
    """``enclava attestation``."""

    def run(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(_measure(kernel, args))
        except ConfigError as exc:
            print(f"enclava: {exc}", file=sys.stderr)
            return 1

    return CliCommand(
        name="attestation", help="Inspect RedPill attestations.", configure=_configure, run=run
    )
