"""What an attestation concludes: :class:`Verdict`, and :class:`AttestationRejected` on failure."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["AttestationRejected", "Verdict"]


class AttestationRejected(ValueError):
    """Evidence that does not prove what it must; the message says which check failed."""


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """One attestation of a provider model; trusted until ``expires_at`` (unix seconds).

    ``label``: the trust anchor it was reached under (``verified``, ``simulated``); ``keyset`` /
    ``keyset_digest``: the aci/1 workload keyset it attested (legacy: empty);
    ``measurements``: what the quote measured (MRTD, RTMRs, dstack app), kept for refused
    workloads too so an admin can review them.
    """

    provider: str
    model: str
    scheme: str
    label: str
    valid: bool
    url: str
    checked_at: float
    expires_at: float
    reason: str = ""
    tcb_status: str = ""
    gpu_checked: bool = False
    signing_address: str = ""
    keyset_digest: str = ""
    keyset: dict[str, Any] = {}
    measurements: dict[str, str] = {}
