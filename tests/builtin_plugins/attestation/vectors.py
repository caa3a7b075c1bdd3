"""Paths and loaders for the public attestation vectors in ``tests/data/attestation``."""

from __future__ import annotations

from pathlib import Path

import dcap_qvl

ATTESTATION = Path(__file__).resolve().parents[2] / "data" / "attestation"
DCAP = ATTESTATION / "dcap-qvl"
QUOTE_NOW = 1750329207
"""max(issueDate(tcb_info), issueDate(qe_identity)) + 60 for ``tdx_quote`` (README)."""
OUTDATED_NOW = 1771412391
"""issueDate(tcb_info) + 60 for ``tdx_quote_outdated`` (2026-02-18T10:58:51Z)."""


class FileCollateral:
    """A collateral source reading one vector file; counts fetches."""

    def __init__(self, name: str) -> None:
        self.text = (DCAP / name).read_text()
        self.fetches = 0

    async def fetch(self, quote: bytes) -> dcap_qvl.QuoteCollateralV3:
        self.fetches += 1
        return dcap_qvl.QuoteCollateralV3.from_json(self.text)


def quote(name: str = "tdx_quote") -> bytes:
    return (DCAP / name).read_bytes()
