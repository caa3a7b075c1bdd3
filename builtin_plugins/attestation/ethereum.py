"""Ethereum primitives for the legacy scheme, from maintained libraries (``eth-keys``,
``eth-utils``), independent of the simulator's own signer.

EIP-191 version ``0x45`` (``personal_sign``): keccak-256 of ``"\\x19Ethereum Signed Message:\\n"
+ len(text bytes) + text bytes``; the signature is r(32) s(32) v(1), v = 27/28 (0/1 accepted).
The signer's TDX report data is its 20-byte address zero-padded to 32 bytes, then our 32-byte
nonce (nearai/private-ml-sdk vllm-proxy ``_build_report_data``).
"""

from __future__ import annotations

from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = ["address_of_public_key", "legacy_report_data", "recover_personal"]


def address_of_public_key(public_key: bytes) -> str:
    """EIP-55 address of an uncompressed (``04``-prefixed, 65-byte) secp256k1 key."""
    if len(public_key) != 65 or public_key[0] != 0x04:
        raise AttestationRejected("signing_public_key is not an uncompressed secp256k1 key")
    # eth_keys/eth_utils (and pydantic under them) cost ~12 MiB: loaded on first RedPill check.
    from eth_keys.datatypes import PublicKey
    from eth_utils.exceptions import ValidationError

    try:
        return str(PublicKey(public_key[1:]).to_checksum_address())
    except ValidationError as exc:
        raise AttestationRejected(f"signing_public_key unusable: {exc}") from None


def _personal_hash(text: str) -> bytes:
    from eth_utils.crypto import keccak

    body = text.encode("utf-8")
    return bytes(keccak(b"\x19Ethereum Signed Message:\n" + str(len(body)).encode() + body))


def recover_personal(text: str, signature: str) -> str:
    """EIP-55 address whose key signed ``text`` (EIP-191); AttestationRejected if unusable."""
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise AttestationRejected("response signature is not hex") from None
    if len(raw) != 65 or raw[64] not in (0, 1, 27, 28):
        raise AttestationRejected("response signature must be 65 bytes with v 27/28")
    vrs = raw[:64] + bytes([raw[64] % 27 if raw[64] >= 27 else raw[64]])
    from eth_keys.datatypes import Signature
    from eth_keys.exceptions import BadSignature
    from eth_utils.exceptions import ValidationError

    try:
        public = Signature(vrs).recover_public_key_from_msg_hash(_personal_hash(text))
    except (BadSignature, ValidationError) as exc:
        raise AttestationRejected(f"response signature does not recover: {exc}") from None
    return str(public.to_checksum_address())


def legacy_report_data(address: str, nonce: bytes) -> bytes:
    """The 64 bytes a legacy quote must carry for ``address`` and ``nonce``."""
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20 or len(nonce) != 32:
        raise AttestationRejected("need a 20-byte address and a 32-byte nonce")
    return raw.ljust(32, b"\x00") + nonce
