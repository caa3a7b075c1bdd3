"""aci/1 digests and receipt signatures (Dstack-TEE/private-ai-gateway ``spec/aci.md``),
computed with ``rfc8785`` (JCS) and ``cryptography`` (Ed25519), independent of the simulator's
own implementation.

keyset digest (§3.1) ``"sha256:" + hex(sha256(JCS(keyset)))``; report data (§3.2)
``sha256(JCS({"keyset_digest", "nonce", "purpose": "aci.report_data.v1"}))`` zero-padded to the
64-byte slot; receipt signature (§7.2) Ed25519 over the JCS form without ``signature``; body
hashes (Appendix A) ``"sha256:" + hex`` of the exact bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = ["API_VERSION", "body_hash", "keyset_digest", "report_data_slot", "verify_signature"]

API_VERSION = "aci/1"
_PURPOSE = "aci.report_data.v1"


def _jcs(value: Mapping[str, Any]) -> bytes:
    try:
        return rfc8785.dumps(dict(value))
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise AttestationRejected(f"document cannot be canonicalized: {exc}") from None


def body_hash(data: bytes) -> str:
    """``sha256:<hex>`` of exact wire bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def keyset_digest(keyset: Mapping[str, Any]) -> str:
    """The §3.1 workload keyset digest."""
    return body_hash(_jcs(keyset))


def report_data_slot(digest: str, nonce: str) -> bytes:
    """The 64-byte report data a quote must carry for ``digest`` and our ``nonce``."""
    statement = _jcs({"keyset_digest": digest, "nonce": nonce, "purpose": _PURPOSE})
    return hashlib.sha256(statement).digest() + bytes(32)


def _receipt_key(receipt: Mapping[str, Any], keyset: Mapping[str, Any]) -> Ed25519PublicKey:
    for entry in keyset.get("receipt_signing_keys") or []:
        if isinstance(entry, dict) and entry.get("key_id") == receipt.get("key_id"):
            if entry.get("algo") != "ed25519":
                raise AttestationRejected(f"receipt key algorithm {entry.get('algo')!r}")
            try:
                return Ed25519PublicKey.from_public_bytes(bytes.fromhex(entry["public_key"]))
            except (KeyError, TypeError, ValueError):
                raise AttestationRejected("receipt key in the keyset is unusable") from None
    raise AttestationRejected(f"receipt key {receipt.get('key_id')!r} is not in the keyset")


def verify_signature(receipt: Mapping[str, Any], keyset: Mapping[str, Any]) -> None:
    """AttestationRejected unless ``receipt`` is an aci/1 receipt signed under ``keyset``."""
    if receipt.get("api_version") != API_VERSION:
        raise AttestationRejected("receipt api_version is not aci/1")
    if receipt.get("workload_keyset_digest") != keyset_digest(keyset):
        raise AttestationRejected("receipt names another keyset")
    key = _receipt_key(receipt, keyset)
    signed = _jcs({k: v for k, v in receipt.items() if k != "signature"})
    try:
        key.verify(bytes.fromhex(str(receipt.get("signature", ""))), signed)
    except (InvalidSignature, ValueError):
        raise AttestationRejected("receipt signature does not verify") from None
