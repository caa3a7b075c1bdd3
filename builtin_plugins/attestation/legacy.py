"""RedPill's legacy scheme: the attestation report of one model, and EIP-191 response signatures.

:func:`verify_legacy_report` takes the exact body of ``GET /v1/attestation/report`` and the
nonce WE generated, and raises :class:`AttestationRejected` unless: the entry of
``all_attestations`` for the signing address exists (the top-level report when the list is
absent); its public key hashes to that address; its quote verifies under the trust anchor; and
its report data is the address (20 bytes, zero-padded to 32) followed by our nonce. The
``request_nonce`` the server echoes is never read.

:func:`verify_signature` checks ``GET /v1/signature/{chat_id}``: the signed text must be
``sha256(request bytes):sha256(response bytes)`` as WE computed them, and the signature must
recover to the attested address (the ``signing_address`` it names is not trusted). The answer's
aci/1 ``receipt`` (private-ai-gateway ``receipt_by_chat_id``) must record the same request and
response hashes and a verified TEE upstream (``upstream.verified``, spec §5.3): no receipt, or
an unverified upstream, is a rejection. In this scheme the receipt's Ed25519 key is not attested
(only the aci/1 scheme attests it), so the receipt counts as the attested gateway's word, tied to
this exchange by its hashes; the gateway refusing unattested upstreams
(``provider.aci_verified``, sent on every request) is the enforcement.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from builtin_plugins.attestation.ethereum import (
    address_of_public_key,
    legacy_report_data,
    recover_personal,
)
from builtin_plugins.attestation.quotes import QuoteVerifier, VerifiedQuote
from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = [
    "LegacyAttestation",
    "signature_text",
    "verify_legacy_receipt",
    "verify_legacy_report",
    "verify_signature",
]


class _Report(msgspec.Struct):
    signing_address: str
    signing_public_key: str
    intel_quote: str
    signing_algo: str = "ecdsa"
    nvidia_payload: str | None = None
    event_log: str | list[Any] | None = None


class _Envelope(_Report):
    all_attestations: list[_Report] | None = None


class _Signature(msgspec.Struct):
    text: str
    signature: str
    signing_algo: str = "ecdsa"
    receipt: dict[str, Any] | None = None


class LegacyAttestation(msgspec.Struct, frozen=True, kw_only=True):
    """A verified legacy report: the response-signing address, its quote, its GPU payload and
    the dstack event log it carries (JSON text; None when absent)."""

    signing_address: str
    quote: VerifiedQuote
    nvidia_payload: str | None
    event_log: str | None = None


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise AttestationRejected(f"{what} is not hex") from None


def _address_of(report: _Report) -> str:
    if report.signing_algo.lower() != "ecdsa":
        raise AttestationRejected(f"unsupported signing algorithm {report.signing_algo!r}")
    derived = address_of_public_key(_hex(report.signing_public_key, "signing_public_key"))
    if derived.lower() != report.signing_address.lower():
        raise AttestationRejected("signing_public_key does not match signing_address")
    return derived


def _entry(envelope: _Envelope) -> _Report:
    if envelope.all_attestations is None:
        return envelope
    wanted = envelope.signing_address.lower()
    for entry in envelope.all_attestations:
        if entry.signing_address.lower() == wanted:
            return entry
    raise AttestationRejected("no entry of all_attestations is for the signing address")


async def verify_legacy_report(
    body: bytes, *, nonce: bytes, quotes: QuoteVerifier
) -> LegacyAttestation:
    """The signer ``body`` attests for ``nonce``; AttestationRejected if any check fails."""
    try:
        report = _entry(msgspec.json.decode(body, type=_Envelope))
    except msgspec.DecodeError as exc:
        raise AttestationRejected(f"malformed attestation report: {exc}") from None
    address = _address_of(report)
    quote = await quotes.verify(_hex(report.intel_quote, "intel_quote"))
    expected = legacy_report_data(address, nonce)
    if quote.report_data[:32] != expected[:32]:
        raise AttestationRejected("report_data does not bind the signing address")
    if quote.report_data[32:64] != expected[32:]:
        raise AttestationRejected("report_data does not bind our nonce (stale or replayed)")
    event_log = report.event_log
    if isinstance(event_log, list):
        event_log = msgspec.json.encode(event_log).decode() if event_log else None
    return LegacyAttestation(
        signing_address=address,
        quote=quote,
        nvidia_payload=report.nvidia_payload,
        event_log=event_log or None,
    )


def signature_text(request_body: bytes, response_body: bytes) -> str:
    """``sha256(request):sha256(response)`` over the exact bytes."""
    return f"{hashlib.sha256(request_body).hexdigest()}:{hashlib.sha256(response_body).hexdigest()}"


def verify_signature(
    body: bytes, *, request_body: bytes, response_bodies: tuple[bytes, ...], address: str
) -> None:
    """Raise AttestationRejected unless ``body`` signs one of ``response_bodies`` by ``address``."""
    try:
        signed: Any = msgspec.json.decode(body, type=_Signature)
    except msgspec.DecodeError as exc:
        raise AttestationRejected(f"malformed signature answer: {exc}") from None
    if signed.signing_algo.lower() != "ecdsa":
        raise AttestationRejected(f"unsupported signing algorithm {signed.signing_algo!r}")
    texts = {signature_text(request_body, r) for r in response_bodies}
    if signed.text not in texts:
        raise AttestationRejected("the signed hashes do not match the bytes sent and received")
    signer = recover_personal(signed.text, signed.signature)
    if signer.lower() != address.lower():
        raise AttestationRejected("the response was not signed by the attested key")


def _event(receipt: dict[str, Any], event_type: str) -> dict[str, Any]:
    for event in receipt.get("event_log") or []:
        if isinstance(event, dict) and event.get("type") == event_type:
            return event
    return {}


def verify_legacy_receipt(body: bytes) -> None:
    """Raise AttestationRejected unless the signature answer ``body`` (already checked by
    :func:`verify_signature`) carries a receipt of the same exchange with a verified upstream."""
    try:
        signed = msgspec.json.decode(body, type=_Signature)
    except msgspec.DecodeError as exc:
        raise AttestationRejected(f"malformed signature answer: {exc}") from None
    receipt, text = signed.receipt, signed.text
    if receipt is None:
        raise AttestationRejected("the signature answer carries no receipt")
    hashes = tuple(
        str(_event(receipt, kind).get("body_hash", "")).removeprefix("sha256:")
        for kind in ("request.received", "response.returned")
    )
    if ":".join(hashes) != text:
        raise AttestationRejected("the receipt records other bytes than the signature")
    if _event(receipt, "upstream.verified").get("result") != "verified":
        raise AttestationRejected("the receipt does not show a verified TEE upstream")
