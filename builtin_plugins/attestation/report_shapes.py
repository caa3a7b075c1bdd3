"""Every shape RedPill's ``GET /v1/attestation/report`` serves, told apart and verified.

* **flat** (dstack-vllm-proxy; docs.redpill.ai "Attestation Report"): one signer at the top,
  ``all_attestations`` beside it: :func:`.legacy.verify_legacy_report`.
* **two-layer** (the gateway in front; NEAR AI Cloud's ``{gateway_attestation,
  model_attestations}``, also served by RedPill next to the flat fields): the gateway's quote
  must bind its ``signing_address`` and OUR nonce, and EVERY model attestation is verified as
  a flat report would be (quote, our nonce, key binding). Each layer's workload is then the
  trust policy's to judge (:mod:`.attester`).
* **tinfoil** (redpill-ai/redpill-gateway ``attestationHandler.ts``: ``{intel_quote,
  all_attestations: [{intel_quote}]}``, ``attestation_type: "tinfoil"``): the quote is
  verified, then refused: no signing key, and no nonce of ours, so answers cannot be bound.
* **chutes** (redpill-gateway ``chutesService.ts``: ``{nonce, all_attestations: [{instance_id,
  nonce, e2e_pubkey, intel_quote (base64), gpu_evidence}]}``): the quotes are verified, then
  refused: the nonce is the gateway's own, and ``e2e_pubkey`` encrypts, it signs nothing.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from builtin_plugins.attestation.ethereum import legacy_report_data
from builtin_plugins.attestation.legacy import LegacyAttestation, verify_legacy_report
from builtin_plugins.attestation.quotes import QuoteVerifier, VerifiedQuote
from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = ["GatewayLayer", "ReportAttestation", "report_shape", "verify_report"]


class GatewayLayer(msgspec.Struct, frozen=True, kw_only=True):
    """The verified gateway attestation of a two-layer report."""

    signing_address: str
    quote: VerifiedQuote
    event_log: str | None = None


class ReportAttestation(msgspec.Struct, frozen=True, kw_only=True):
    """A verified report: its model attestations (at least one) and, when two-layer, the
    gateway's."""

    models: tuple[LegacyAttestation, ...]
    gateway: GatewayLayer | None = None


class _Gateway(msgspec.Struct):
    signing_address: str
    intel_quote: str
    signing_algo: str = "ecdsa"
    event_log: str | list[Any] | None = None


def _entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    entries = doc.get("all_attestations")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def report_shape(doc: dict[str, Any]) -> str:
    """``two-layer``, ``tinfoil``, ``chutes`` or ``flat``."""
    entries = _entries(doc)
    if "gateway_attestation" in doc or "model_attestations" in doc:
        return "two-layer"
    if doc.get("attestation_type") == "tinfoil":
        return "tinfoil"
    if any("e2e_pubkey" in e or "instance_id" in e for e in entries):
        return "chutes"
    if (
        "signing_address" not in doc
        and not entries
        and isinstance(doc.get("all_attestations"), list)
    ):
        return "chutes"
    if "signing_address" not in doc and "intel_quote" in doc:
        return "tinfoil"
    return "flat"


def _event_log(value: str | list[Any] | None) -> str | None:
    if isinstance(value, list):
        return msgspec.json.encode(value).decode() if value else None
    return value or None


async def _gateway(layer: Any, *, nonce: bytes, quotes: QuoteVerifier) -> GatewayLayer:
    try:
        gateway = msgspec.convert(layer, type=_Gateway)
    except msgspec.ValidationError as exc:
        raise AttestationRejected(f"malformed gateway_attestation: {exc}") from None
    if gateway.signing_algo.lower() != "ecdsa":
        raise AttestationRejected(
            f"gateway: unsupported signing algorithm {gateway.signing_algo!r}"
        )
    try:
        raw = bytes.fromhex(gateway.intel_quote.removeprefix("0x"))
    except ValueError:
        raise AttestationRejected("gateway: intel_quote is not hex") from None
    quote = await quotes.verify(raw)
    expected = legacy_report_data(gateway.signing_address, nonce)
    if quote.report_data[:32] != expected[:32]:
        raise AttestationRejected("gateway: report_data does not bind its signing address")
    if quote.report_data[32:64] != expected[32:]:
        raise AttestationRejected(
            "gateway: report_data does not bind our nonce (stale or replayed)"
        )
    return GatewayLayer(
        signing_address=gateway.signing_address,
        quote=quote,
        event_log=_event_log(gateway.event_log),
    )


async def _two_layer(
    doc: dict[str, Any], *, nonce: bytes, quotes: QuoteVerifier
) -> ReportAttestation:
    if not isinstance(doc.get("gateway_attestation"), dict):
        raise AttestationRejected("the two-layer report carries no gateway_attestation")
    gateway = await _gateway(doc["gateway_attestation"], nonce=nonce, quotes=quotes)
    layers = doc.get("model_attestations")
    if not isinstance(layers, list) or not layers:
        raise AttestationRejected("the two-layer report carries no model_attestations")
    models = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise AttestationRejected(f"model_attestations[{index}] is not an object")
        entry = {k: v for k, v in layer.items() if k != "all_attestations"}
        try:
            attested = await verify_legacy_report(
                msgspec.json.encode(entry), nonce=nonce, quotes=quotes
            )
        except AttestationRejected as exc:
            raise AttestationRejected(f"model_attestations[{index}]: {exc}") from None
        models.append(attested)
    return ReportAttestation(models=tuple(models), gateway=gateway)


def _quote_bytes(value: object, *, base64_encoded: bool) -> bytes:
    if not isinstance(value, str) or not value:
        raise AttestationRejected("the attestation carries no intel_quote")
    try:
        if base64_encoded:
            return base64.b64decode(value, validate=True)
        return bytes.fromhex(value.removeprefix("0x"))
    except (ValueError, binascii.Error):
        encoding = "base64" if base64_encoded else "hex"
        raise AttestationRejected(f"intel_quote is not {encoding}") from None


async def _tinfoil(doc: dict[str, Any], *, quotes: QuoteVerifier) -> ReportAttestation:
    await quotes.verify(_quote_bytes(doc.get("intel_quote"), base64_encoded=False))
    raise AttestationRejected(
        "tinfoil attestation carries no signing key: answers cannot be bound to it "
        "(and its quote binds no nonce of ours; the quote itself verified)"
    )


async def _chutes(doc: dict[str, Any], *, nonce: bytes, quotes: QuoteVerifier) -> ReportAttestation:
    entries = _entries(doc)
    if not entries:
        raise AttestationRejected(
            "chutes attestation carries no evidence (all_attestations is empty)"
        )
    for entry in entries:
        await quotes.verify(_quote_bytes(entry.get("intel_quote"), base64_encoded=True))
    if any(str(e.get("nonce", "")).lower() != nonce.hex() for e in entries):
        raise AttestationRejected(
            "chutes attestation binds a nonce the gateway chose, not ours: freshness cannot be "
            "checked; and it carries no signing key (e2e_pubkey encrypts, it signs no answer)"
        )
    raise AttestationRejected(
        "chutes attestation carries no signing key: answers cannot be bound to it "
        "(e2e_pubkey encrypts, it signs no answer)"
    )


async def verify_report(body: bytes, *, nonce: bytes, quotes: QuoteVerifier) -> ReportAttestation:
    """The signers ``body`` attests for ``nonce``, whatever its shape; AttestationRejected
    (naming the failed check or the missing evidence) otherwise."""
    try:
        doc = msgspec.json.decode(body, type=dict[str, Any])
    except msgspec.DecodeError as exc:
        raise AttestationRejected(f"malformed attestation report: {exc}") from None
    shape = report_shape(doc)
    if shape == "two-layer":
        return await _two_layer(doc, nonce=nonce, quotes=quotes)
    if shape == "tinfoil":
        return await _tinfoil(doc, quotes=quotes)
    if shape == "chutes":
        return await _chutes(doc, nonce=nonce, quotes=quotes)
    return ReportAttestation(models=(await verify_legacy_report(body, nonce=nonce, quotes=quotes),))
