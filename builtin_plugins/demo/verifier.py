"""Verifying a RedPill legacy attestation report whose quote is SIMULATED (demo mode only).

:func:`verify_legacy_report` takes the exact body of ``GET /v1/attestation/report`` and the
nonce the caller generated, and raises :class:`AttestationRejected` unless:

1. the body is a JSON object with ``signing_address``, ``signing_public_key`` (uncompressed
   SEC1 hex), ``signing_algo`` ``ecdsa`` and ``intel_quote`` (hex);
2. the public key hashes to the signing address (Ethereum address derivation);
3. the quote is a simulated quote (:mod:`builtin_plugins.simulators.simquote`) whose
   signature verifies under ``trusted_root`` and nothing else, with an accepted TCB status and
   the simulator workload's measurement;
4. its report data is the signing address (20 bytes, zero-padded to 32) followed by OUR
   nonce; the ``request_nonce`` the server echoes is never read.

Issue #6's production verifier keeps steps 1, 2 and 4 and replaces step 3 with a DCAP check
of a real TDX quote. ``all_attestations`` and the GPU evidence (simulated, unsigned) are not
examined: the verdict only ever says ``simulated``.
"""

from __future__ import annotations

import msgspec

from builtin_plugins.simulators.eip191 import (
    SignatureError,
    keccak256,
    legacy_report_data,
    to_checksum_address,
)
from builtin_plugins.simulators.simquote import SIM_MR_TD, SimQuoteError, verify_sim_quote

__all__ = [
    "STRICT_TCB",
    "AttestationRejected",
    "AttestedSigner",
    "verify_legacy_report",
]

STRICT_TCB: frozenset[str] = frozenset({"UpToDate"})
"""TCB statuses accepted by default: only a platform with every update applied."""


class AttestationRejected(ValueError):
    """The report does not prove what it must; the message says which check failed."""


class AttestedSigner(msgspec.Struct, frozen=True):
    """What a verified report establishes: the key that signs responses, and its platform."""

    signing_address: str
    tcb_status: str


class _LegacyReport(msgspec.Struct):
    signing_address: str
    signing_public_key: str
    intel_quote: str
    signing_algo: str = "ecdsa"


def _decode(body: bytes) -> _LegacyReport:
    try:
        return msgspec.json.decode(body, type=_LegacyReport)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise AttestationRejected(f"malformed attestation report: {exc}") from None


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise AttestationRejected(f"{what} is not hex") from None


def _check_key(report: _LegacyReport) -> str:
    if report.signing_algo.lower() != "ecdsa":
        raise AttestationRejected(f"unsupported signing algorithm {report.signing_algo!r}")
    public_key = _hex(report.signing_public_key, "signing_public_key")
    if len(public_key) != 65 or public_key[0] != 0x04:
        raise AttestationRejected("signing_public_key is not an uncompressed secp256k1 key")
    derived = to_checksum_address(keccak256(public_key[1:])[-20:])
    if derived.lower() != report.signing_address.lower():
        raise AttestationRejected("signing_public_key does not match signing_address")
    return derived


def verify_legacy_report(
    body: bytes,
    *,
    nonce: bytes,
    trusted_root: bytes,
    accepted_tcb: frozenset[str] = STRICT_TCB,
) -> AttestedSigner:
    """The signer ``body`` attests for ``nonce``; AttestationRejected if any check fails."""
    report = _decode(body)
    address = _check_key(report)
    try:
        quote = verify_sim_quote(_hex(report.intel_quote, "intel_quote"), trusted_root)
        expected = legacy_report_data(address, nonce)
    except (SimQuoteError, SignatureError) as exc:
        raise AttestationRejected(str(exc)) from None
    if quote.tcb_status not in accepted_tcb:
        raise AttestationRejected(f"TCB status {quote.tcb_status} is not accepted")
    if quote.mr_td != SIM_MR_TD:
        raise AttestationRejected("the quote measures an unknown workload")
    if quote.report_data[:32] != expected[:32]:
        raise AttestationRejected("report_data does not bind the signing address")
    if quote.report_data[32:] != expected[32:]:
        raise AttestationRejected("report_data does not bind our nonce (stale or replayed)")
    return AttestedSigner(signing_address=address, tcb_status=quote.tcb_status)
