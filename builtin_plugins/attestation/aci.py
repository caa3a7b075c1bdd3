"""RedPill's aci/1 scheme (Dstack-TEE/private-ai-gateway ``spec/aci.md``): report and receipts.

:func:`verify_aci_report` takes the body of ``GET /v1/aci/attestation?nonce=N`` and OUR nonce:
the keyset digest must be sha256 of the keyset's JCS form and equal the one announced, the
keyset's ``not_after`` must lie ahead, and the quote (verified under the trust anchor) must
carry ``sha256(statement)`` zero-padded in its 64-byte report data, the statement binding the
digest and our nonce (§3.2). :func:`verify_receipt` checks a receipt (§7): Ed25519 over its JCS
form by a key of the attested keyset, naming that keyset, with ``request.received`` and
``response.returned`` body hashes equal to the exact bytes sent and received, and the upstream
verified.
"""

from __future__ import annotations

from typing import Any

import msgspec

from builtin_plugins.attestation import aci_crypto
from builtin_plugins.attestation.quotes import QuoteVerifier, VerifiedQuote
from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = ["AciAttestation", "verify_aci_report", "verify_receipt"]


class _Evidence(msgspec.Struct):
    quote: str
    event_log: str | None = None


class _Attestation(msgspec.Struct):
    workload_keyset: dict[str, Any]
    evidence: _Evidence
    tee_type: str = "tdx"


class _Report(msgspec.Struct):
    api_version: str
    workload_keyset_digest: str
    attestation: _Attestation


class AciAttestation(msgspec.Struct, frozen=True, kw_only=True):
    """A verified aci/1 report: the keyset (and digest) receipts must be signed under."""

    keyset: dict[str, Any]
    digest: str
    not_after: int
    quote: VerifiedQuote
    event_log: str | None = None


async def verify_aci_report(
    body: bytes, *, nonce: str, quotes: QuoteVerifier, now: float
) -> AciAttestation:
    """The keyset ``body`` attests for ``nonce`` (64 hex); AttestationRejected otherwise."""
    try:
        report = msgspec.json.decode(body, type=_Report)
    except msgspec.DecodeError as exc:
        raise AttestationRejected(f"malformed aci/1 report: {exc}") from None
    if report.api_version != aci_crypto.API_VERSION:
        raise AttestationRejected(f"unsupported api_version {report.api_version!r}")
    if report.attestation.tee_type != "tdx":
        raise AttestationRejected(f"unsupported tee_type {report.attestation.tee_type!r}")
    keyset = report.attestation.workload_keyset
    digest = aci_crypto.keyset_digest(keyset)
    if digest != report.workload_keyset_digest:
        raise AttestationRejected("workload_keyset_digest is not the digest of the keyset")
    not_after = keyset.get("not_after")
    if not isinstance(not_after, int) or not_after <= now:
        raise AttestationRejected("the keyset has expired (not_after)")
    try:
        raw_quote = bytes.fromhex(report.attestation.evidence.quote.removeprefix("0x"))
    except ValueError:
        raise AttestationRejected("the quote is not hex") from None
    quote = await quotes.verify(raw_quote)
    if quote.report_data[:64] != aci_crypto.report_data_slot(digest, nonce):
        raise AttestationRejected("report_data does not bind the keyset and our nonce")
    return AciAttestation(
        keyset=keyset,
        digest=digest,
        not_after=not_after,
        quote=quote,
        event_log=report.attestation.evidence.event_log,
    )


def _event_hash(receipt: dict[str, Any], event_type: str) -> str | None:
    for event in receipt.get("event_log") or []:
        if isinstance(event, dict) and event.get("type") == event_type:
            return str(event.get("body_hash"))
    return None


def _upstream_verified(receipt: dict[str, Any]) -> bool:
    for event in receipt.get("event_log") or []:
        if isinstance(event, dict) and event.get("type") == "upstream.verified":
            return event.get("result") == "verified"
    return False


def verify_receipt(
    body: bytes,
    *,
    keyset: dict[str, Any],
    request_body: bytes,
    response_bodies: tuple[bytes, ...],
) -> None:
    """Raise AttestationRejected unless ``body`` is a receipt of this exchange under the keyset."""
    try:
        receipt = msgspec.json.decode(body, type=dict[str, Any])
    except msgspec.DecodeError as exc:
        raise AttestationRejected(f"malformed receipt: {exc}") from None
    aci_crypto.verify_signature(receipt, keyset)
    if _event_hash(receipt, "request.received") != aci_crypto.body_hash(request_body):
        raise AttestationRejected("the receipt's request hash does not match the bytes sent")
    returned = _event_hash(receipt, "response.returned")
    if returned not in {aci_crypto.body_hash(r) for r in response_bodies}:
        raise AttestationRejected("the receipt's response hash does not match the bytes received")
    if not _upstream_verified(receipt):
        raise AttestationRejected("the receipt does not show a verified TEE upstream")
