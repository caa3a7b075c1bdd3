"""Test-only EIP-191 helpers around the simulators' signer (:mod:`builtin_plugins.simulators.
eip191`): the legacy signed text, a boolean verify and the address of a private key, so tests
state what a vector says without production modules carrying code only tests call."""

from __future__ import annotations

import hashlib

from coincurve import PrivateKey

from builtin_plugins.simulators.eip191 import (
    SignatureError,
    keccak256,
    recover_personal,
    to_checksum_address,
)

__all__ = ["address_from_private_key", "legacy_signature_text", "verify_personal"]


def address_from_private_key(private_key: bytes) -> str:
    """EIP-55 address of a secp256k1 private key: the last 20 bytes of keccak-256 of the
    uncompressed public key without its 0x04 prefix."""
    public = PrivateKey(private_key).public_key.format(compressed=False)[1:]
    return to_checksum_address(keccak256(public)[-20:])


def verify_personal(text: str, signature: str, address: str) -> bool:
    """True when ``signature`` over ``text`` recovers to ``address`` (case-insensitive)."""
    try:
        return recover_personal(text, signature).lower() == address.lower()
    except SignatureError:
        return False


def legacy_signature_text(request_body: bytes, response_body: bytes) -> str:
    """``sha256(request):sha256(response)`` over the exact wire bytes (raw SSE for streams)."""
    request_hash = hashlib.sha256(request_body).hexdigest()
    return f"{request_hash}:{hashlib.sha256(response_body).hexdigest()}"
