"""EIP-191 ``personal_sign`` over secp256k1: sign, recover, and the legacy report-data layout.

RedPill's legacy response signature (nearai/private-ml-sdk ``vllm-proxy``, ``sign_chat``; kept by
Dstack-TEE/private-ai-gateway as ``/v1/signature``) is ``eth_account``'s
``sign_message(encode_defunct(text=...))``: keccak-256 of
``b"\\x19Ethereum Signed Message:\\n" + str(len(text_bytes)) + text_bytes``, signed with RFC 6979
deterministic ECDSA, served as ``0x`` + r(32) + s(32) + v(1) hex with v = 27 or 28. The signed
text is ``f"{sha256(request bytes)}:{sha256(response bytes)}"``. The signer's TDX report data is
the 20-byte address right-padded with zeros to 32 bytes, then the 32-byte nonce
(vllm-proxy ``_build_report_data``). Pure functions, no I/O; the simulators sign with them
(production verifiers use their own implementation, :mod:`builtin_plugins.attestation.ethereum`).
"""

from __future__ import annotations

from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak

__all__ = [
    "SignatureError",
    "keccak256",
    "legacy_report_data",
    "personal_message_hash",
    "recover_personal",
    "sign_personal",
    "to_checksum_address",
]


class SignatureError(ValueError):
    """A signature or address that cannot be parsed or does not recover."""


def keccak256(data: bytes) -> bytes:
    """Ethereum's keccak-256 (not NIST SHA3-256)."""
    digest = keccak.new(digest_bits=256)
    digest.update(data)
    return digest.digest()


def personal_message_hash(text: str) -> bytes:
    """The 32-byte hash EIP-191 version 0x45 signs for ``text``."""
    body = text.encode("utf-8")
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(body)).encode() + body)


def to_checksum_address(address: bytes) -> str:
    """EIP-55 mixed-case hex of a 20-byte address."""
    if len(address) != 20:
        raise SignatureError("an address is 20 bytes")
    plain = address.hex()
    mask = keccak256(plain.encode()).hex()[:40]
    return "0x" + "".join(
        c.upper() if int(m, 16) >= 8 else c for c, m in zip(plain, mask, strict=True)
    )


def _address_of(public_key: PublicKey) -> bytes:
    return keccak256(public_key.format(compressed=False)[1:])[-20:]


def sign_personal(text: str, private_key: bytes) -> str:
    """``0x``-hex 65-byte signature (v = 27/28) of ``text``, deterministic (RFC 6979)."""
    raw = PrivateKey(private_key).sign_recoverable(personal_message_hash(text), hasher=None)
    return "0x" + (raw[:64] + bytes([raw[64] + 27])).hex()


def _signature_bytes(signature: str) -> bytes:
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError as exc:
        raise SignatureError("signature is not hex") from exc
    if len(raw) != 65:
        raise SignatureError("signature must be 65 bytes")
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if v not in (0, 1):
        raise SignatureError("signature recovery id must be 27 or 28")
    return raw[:64] + bytes([v])


def recover_personal(text: str, signature: str) -> str:
    """EIP-55 address whose key produced ``signature`` over ``text``."""
    try:
        key = PublicKey.from_signature_and_message(
            _signature_bytes(signature), personal_message_hash(text), hasher=None
        )
    except SignatureError:
        raise
    except Exception as exc:  # coincurve raises plain Exception on unrecoverable input
        raise SignatureError(f"signature does not recover: {exc}") from exc
    return to_checksum_address(_address_of(key))


def legacy_report_data(address: str, nonce: bytes) -> bytes:
    """64-byte report data: address (20 B) zero-padded to 32 B, then the 32-byte nonce."""
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20 or len(nonce) != 32:
        raise SignatureError("need a 20-byte address and a 32-byte nonce")
    return raw.ljust(32, b"\x00") + nonce
