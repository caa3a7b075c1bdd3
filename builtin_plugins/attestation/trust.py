"""The trust anchor in force: Intel DCAP in production, the simulator's test root in demo mode.

A :class:`Trust` pairs a quote verifier with the label every verdict carries. A simulated trust
is labelled ``simulated`` and only ever attests providers on loopback URLs, so it can be
neither mistaken for nor pointed at a real provider.
"""

from __future__ import annotations

import msgspec

from builtin_plugins.attestation.collateral import CollateralCache, PccsCollateral
from builtin_plugins.attestation.quotes import DcapQuotes, QuoteVerifier, SimulatedQuotes
from builtin_plugins.attestation.settings import AttestationSettings
from builtin_plugins.simulators.keys import sim_root_public_key

__all__ = ["SIMULATED_LABEL", "VERIFIED_LABEL", "Trust", "production_trust", "simulated_trust"]

VERIFIED_LABEL = "verified"
SIMULATED_LABEL = "simulated"


class Trust(msgspec.Struct, frozen=True, kw_only=True):
    """How quotes are checked, and what verdicts under it are called."""

    quotes: QuoteVerifier
    label: str
    simulated: bool = False


def production_trust(settings: AttestationSettings) -> Trust:
    """Intel DCAP with collateral from ``settings.pccs_url`` and its TCB policy."""
    quotes = DcapQuotes(
        CollateralCache(PccsCollateral(settings.pccs_url)),
        accepted_tcb=frozenset(settings.accepted_tcb_statuses),
    )
    return Trust(quotes=quotes, label=VERIFIED_LABEL)


def simulated_trust(settings: AttestationSettings) -> Trust:
    """The simulator's test root only (demo mode, tests), with the same TCB policy."""
    quotes = SimulatedQuotes(
        sim_root_public_key(), accepted_tcb=frozenset(settings.accepted_tcb_statuses)
    )
    return Trust(quotes=quotes, label=SIMULATED_LABEL, simulated=True)
