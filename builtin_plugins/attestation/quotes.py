"""TDX quote checks behind one seam: Intel DCAP here, test roots in :mod:`.simulated_quotes`.

A :class:`QuoteVerifier` turns quote bytes into a :class:`VerifiedQuote` (report data, TCB
status, MRTD and RTMRs; whether that workload is trusted is :mod:`.policy`'s call) or raises
:class:`AttestationRejected`. :class:`DcapQuotes` verifies a real quote with ``dcap-qvl``
against collateral from :mod:`.collateral`, then applies the TCB policy (:func:`accept_tcb`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from builtin_plugins.attestation.collateral import CollateralCache
from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = [
    "STRICT_TCB",
    "DcapQuotes",
    "QuoteVerifier",
    "VerifiedQuote",
    "accept_tcb",
]

STRICT_TCB: frozenset[str] = frozenset({"UpToDate"})
"""TCB statuses accepted by default: only a platform with every update applied."""


class VerifiedQuote(msgspec.Struct, frozen=True, kw_only=True):
    """What a verified quote establishes."""

    report_data: bytes
    tcb_status: str
    advisory_ids: tuple[str, ...] = ()
    mr_td: str = ""
    rtmrs: tuple[str, ...] = ()


class QuoteVerifier(Protocol):
    """Verifies TDX quotes under one trust anchor."""

    async def verify(self, quote: bytes) -> VerifiedQuote:
        """The quote's verified contents; AttestationRejected otherwise."""
        ...


def accept_tcb(status: str, accepted: frozenset[str]) -> None:
    """AttestationRejected unless the TCB policy accepts ``status``."""
    if status not in accepted:
        raise AttestationRejected(f"TCB status {status} is not accepted by the TCB policy")


class DcapQuotes:
    """Intel DCAP verification with ``dcap-qvl``; ``clock`` is injectable for offline vectors."""

    def __init__(
        self,
        collateral: CollateralCache,
        *,
        accepted_tcb: frozenset[str] = STRICT_TCB,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._collateral = collateral
        self._accepted = accepted_tcb
        self._clock = clock

    async def verify(self, quote: bytes) -> VerifiedQuote:
        """Verify ``quote`` against cached collateral at ``clock()``, then the TCB policy."""
        import dcap_qvl

        try:
            parsed = dcap_qvl.parse_quote(quote)
        except ValueError as exc:
            raise AttestationRejected(f"not a DCAP quote: {exc}") from None
        if not parsed.is_tdx():
            raise AttestationRejected("the quote is not a TDX quote")
        collateral = await self._collateral.get(quote)
        try:
            report = dcap_qvl.verify(quote, collateral, int(self._clock()))
        except ValueError as exc:
            self._collateral.forget(quote)
            raise AttestationRejected(f"quote verification failed: {exc}") from None
        accept_tcb(report.status, self._accepted)
        body = parsed.report
        return VerifiedQuote(
            report_data=bytes(body.report_data),
            tcb_status=report.status,
            advisory_ids=tuple(report.advisory_ids),
            mr_td=bytes(body.mr_td).hex(),
            rtmrs=tuple(bytes(getattr(body, f"rt_mr{i}")).hex() for i in range(4)),
        )
