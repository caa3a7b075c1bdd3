"""The trust anchor in force: Intel DCAP in production, the simulator's test root in demo mode.

A :class:`Trust` pairs a quote verifier with the label every verdict carries and the workloads
the anchor itself vouches for (none for Intel DCAP: production trusts only what the trust
policy lists). A simulated trust is labelled ``simulated``, allows the simulator's measurement
and only ever attests providers on loopback URLs, so it can be neither mistaken for nor pointed
at a real provider.
"""

from __future__ import annotations

import msgspec

from builtin_plugins.attestation.collateral import CollateralCache, PccsCollateral
from builtin_plugins.attestation.extra_roots import TEST_ROOT_LABEL, read_roots
from builtin_plugins.attestation.policy import TrustRule, Workload
from builtin_plugins.attestation.quotes import DcapQuotes, QuoteVerifier
from builtin_plugins.attestation.settings import AttestationSettings
from builtin_plugins.attestation.simulated_quotes import (
    SIMULATOR_MR_TD,
    SIMULATOR_ROOT,
    TestRootQuotes,
)

__all__ = [
    "SIMULATED_LABEL",
    "SIMULATOR_RULE",
    "VERIFIED_LABEL",
    "Trust",
    "production_trust",
    "simulated_trust",
]

VERIFIED_LABEL = "verified"
SIMULATED_LABEL = "simulated"
SIMULATOR_RULE = TrustRule(workloads=[Workload(mr_td=SIMULATOR_MR_TD, note="the simulator")])


class Trust(msgspec.Struct, frozen=True, kw_only=True):
    """How quotes are checked, and what verdicts under it are called."""

    quotes: QuoteVerifier
    label: str
    simulated: bool = False
    rules: tuple[TrustRule, ...] = ()


def production_trust(settings: AttestationSettings) -> Trust:
    """Intel DCAP with collateral from ``settings.pccs_url`` and its TCB policy; plus the test
    roots of ``extra_roots_file`` (labelled ``test-root``) when the settings allow them."""
    accepted = frozenset(settings.accepted_tcb_statuses)
    quotes = DcapQuotes(CollateralCache(PccsCollateral(settings.pccs_url)), accepted_tcb=accepted)
    if settings.extra_roots_file and settings.allow_test_roots:
        roots = read_roots(settings.extra_roots_file)
        test = TestRootQuotes(roots, accepted_tcb=accepted, fallback=quotes)
        return Trust(quotes=test, label=TEST_ROOT_LABEL, rules=(SIMULATOR_RULE,))
    return Trust(quotes=quotes, label=VERIFIED_LABEL)


def simulated_trust(settings: AttestationSettings) -> Trust:
    """The simulator's test root only (demo mode, tests), with the same TCB policy."""
    quotes = TestRootQuotes(
        (SIMULATOR_ROOT,), accepted_tcb=frozenset(settings.accepted_tcb_statuses)
    )
    return Trust(quotes=quotes, label=SIMULATED_LABEL, simulated=True, rules=(SIMULATOR_RULE,))
