"""Intel DCAP collateral (TCB info, QE identity, CRLs), fetched once and cached until it expires.

The cache is keyed by the quote's FMSPC and PCK CA and holds an entry until the earliest
``nextUpdate`` of its TCB info and QE identity; a quote that fails verification drops its entry
so the next attestation fetches fresh collateral. :class:`PccsCollateral` fetches from a PCCS
(``dcap-qvl``'s client); tests pass a source reading the vector files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from builtin_plugins.attestation.verdicts import AttestationRejected

if TYPE_CHECKING:  # dcap_qvl loads on the first quote check, not at import
    import dcap_qvl

__all__ = ["CollateralCache", "CollateralSource", "PccsCollateral", "collateral_expiry"]


class CollateralSource(Protocol):
    """Where collateral for a quote comes from."""

    async def fetch(self, quote: bytes) -> dcap_qvl.QuoteCollateralV3:
        """Collateral for ``quote``; raises ValueError when it cannot be had."""
        ...


class PccsCollateral:
    """A PCCS (or Intel PCS) at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def fetch(self, quote: bytes) -> dcap_qvl.QuoteCollateralV3:
        """Ask the PCCS for ``quote``'s collateral."""
        import dcap_qvl

        return await dcap_qvl.get_collateral(self.url, quote)


def _unix(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def collateral_expiry(collateral: dcap_qvl.QuoteCollateralV3) -> float:
    """The earliest ``nextUpdate`` of the TCB info and the QE identity (unix seconds)."""
    dates = [json.loads(collateral.tcb_info)["nextUpdate"]]
    dates.append(json.loads(collateral.qe_identity)["nextUpdate"])
    return min(_unix(d) for d in dates)


class CollateralCache:
    """Collateral per (FMSPC, CA), kept until its ``nextUpdate`` by ``clock``."""

    def __init__(self, source: CollateralSource, *, clock: Callable[[], float] = time.time):
        self._source = source
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[dcap_qvl.QuoteCollateralV3, float]] = {}

    @staticmethod
    def _key(quote: bytes) -> tuple[str, str]:
        import dcap_qvl

        parsed = dcap_qvl.parse_quote(quote)
        return parsed.fmspc(), parsed.ca()

    async def get(self, quote: bytes) -> dcap_qvl.QuoteCollateralV3:
        """Cached collateral for ``quote``, fetched when missing or past its ``nextUpdate``.

        Raises :class:`~.verdicts.AttestationRejected` when none can be had (fail closed).
        """
        try:
            key = self._key(quote)
        except ValueError as exc:
            raise AttestationRejected(f"no FMSPC in the quote: {exc}") from None
        entry = self._entries.get(key)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        try:
            collateral = await self._source.fetch(quote)
            expiry = collateral_expiry(collateral)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise AttestationRejected(f"DCAP collateral unavailable: {exc}") from None
        self._entries[key] = (collateral, expiry)
        return collateral

    def forget(self, quote: bytes) -> None:
        """Drop the entry ``quote`` uses (after a failed verification)."""
        try:
            self._entries.pop(self._key(quote), None)
        except ValueError:
            return
