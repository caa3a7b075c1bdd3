"""aci/1 digests and signatures (Dstack-TEE/private-ai-gateway ``spec/aci.md``), pure functions.

* keyset digest (§3.1): ``"sha256:" + hex(sha256(JCS(workload_keyset)))``;
* attestation statement (§3.2): ``{"keyset_digest":...,"nonce":<64-hex or null>,"purpose":
  "aci.report_data.v1"}``; ``report_data = sha256(statement)``, placed zero-padded in the 64-byte
  TEE report-data slot;
* receipt signature (§7.2): Ed25519 over the JCS form of the receipt without ``signature``, hex;
* session id (§8): ``hex(sha256(JCS(session document)))``;
* body hashes (Appendix A): ``"sha256:" + hex`` over the exact bytes seen on the wire.

Reproduces every value of ``tests/data/attestation/aci/test-vectors.md``. The simulator
signs with these and verifiers check with them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from builtin_plugins.simulators.jcs import canonical_json

__all__ = [
    "API_VERSION",
    "PURPOSE",
    "AciError",
    "attestation_statement",
    "body_hash",
    "is_valid_nonce",
    "keyset_digest",
    "report_data",
    "report_data_slot",
    "session_id",
    "sign_receipt",
    "verify_receipt",
]

API_VERSION = "aci/1"
PURPOSE = "aci.report_data.v1"
_NONCE = re.compile(r"[0-9a-f]{64}")


class AciError(ValueError):
    """An aci/1 artifact that does not verify."""


def body_hash(data: bytes) -> str:
    """``sha256:<hex>`` of exact wire bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def keyset_digest(keyset: Mapping[str, Any]) -> str:
    """The §3.1 workload keyset digest."""
    return body_hash(canonical_json(dict(keyset)))


def is_valid_nonce(nonce: str) -> bool:
    """A §3.2 nonce: exactly 64 lowercase hex characters."""
    return _NONCE.fullmatch(nonce) is not None


def attestation_statement(digest: str, nonce: str | None) -> bytes:
    """The exact §3.2 statement bytes (``nonce`` None gives the unchallenged ``null`` form)."""
    if nonce is not None and not is_valid_nonce(nonce):
        raise AciError("nonce must be 64 lowercase hex characters")
    return canonical_json({"keyset_digest": digest, "nonce": nonce, "purpose": PURPOSE})


def report_data(digest: str, nonce: str | None) -> bytes:
    """The 32-byte §3.2 report data."""
    return hashlib.sha256(attestation_statement(digest, nonce)).digest()


def report_data_slot(digest: str, nonce: str | None) -> bytes:
    """The 64-byte TEE report-data slot: report data, then 32 zero bytes."""
    return report_data(digest, nonce) + bytes(32)


def session_id(document: Mapping[str, Any]) -> str:
    """The §8 content address of an attested-session document."""
    return hashlib.sha256(canonical_json(dict(document))).hexdigest()


def sign_receipt(document: Mapping[str, Any], seed: bytes) -> dict[str, Any]:
    """``document`` plus its §7.2 Ed25519 ``signature`` (hex)."""
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(canonical_json(unsigned))
    return {**unsigned, "signature": signature.hex()}


def _receipt_key(receipt: Mapping[str, Any], keyset: Mapping[str, Any]) -> Ed25519PublicKey:
    for entry in keyset.get("receipt_signing_keys", []):
        if entry.get("key_id") == receipt.get("key_id"):
            if entry.get("algo") != "ed25519":
                raise AciError(f"receipt key algorithm {entry.get('algo')!r} is not supported")
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(entry["public_key"]))
    raise AciError(f"receipt key {receipt.get('key_id')!r} is not in the keyset")


def verify_receipt(receipt: Mapping[str, Any], keyset: Mapping[str, Any]) -> None:
    """Raise :class:`AciError` unless ``receipt`` is an aci/1 receipt signed by ``keyset``."""
    if receipt.get("api_version") != API_VERSION:
        raise AciError("receipt api_version is not aci/1")
    if receipt.get("workload_keyset_digest") != keyset_digest(keyset):
        raise AciError("receipt names another keyset")
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        signature = bytes.fromhex(str(receipt.get("signature", "")))
        _receipt_key(receipt, keyset).verify(signature, canonical_json(unsigned))
    except (InvalidSignature, ValueError) as exc:
        raise AciError("receipt signature does not verify") from exc
