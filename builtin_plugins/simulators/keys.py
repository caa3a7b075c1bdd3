"""The simulators' PUBLIC TEST keys. Anyone can sign with them: they prove nothing outside tests.

* legacy response signer (secp256k1): private key ``0x11`` x 32, address
  :data:`LEGACY_SIGNING_ADDRESS`; from ``attestation/redpill/legacy_signature_vector.json``
  in the shared test data;
* aci/1 receipt key ``receipt-1`` (Ed25519): seed ``0x02`` x 32; from
  ``attestation/aci/test-vectors.md``;
* simulated-quote root (Ed25519): seed ``0x5a`` x 32; this module (see :mod:`.simquote`);
* simulated NRAS verdict signer (ECDSA P-384, kid :data:`NRAS_KEY_ID`): secret ``0x7a`` x 48
  reduced mod the curve order, and a "rogue" key (``0x7b`` x 48) that no JWKS lists.

Using the vector keys makes the simulator and the published vectors agree byte for byte, so a
verifier tested against one is tested against the other.
"""

from __future__ import annotations

__all__ = [
    "LEGACY_SIGNING_ADDRESS",
    "LEGACY_SIGNING_KEY",
    "NRAS_KEY_ID",
    "NRAS_KEY_SECRET",
    "NRAS_ROGUE_SECRET",
    "RECEIPT_KEY_ID",
    "RECEIPT_KEY_SEED",
    "SIM_ROOT_SEED",
    "TEST_API_KEY",
    "ed25519_public_hex",
    "sim_root_public_key",
]

LEGACY_SIGNING_KEY = bytes([0x11]) * 32
"""secp256k1 private key of the legacy ``/v1/signature`` signer (the vector's test key)."""

LEGACY_SIGNING_ADDRESS = "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"
"""EIP-55 address of :data:`LEGACY_SIGNING_KEY`."""

RECEIPT_KEY_SEED = bytes([0x02]) * 32
RECEIPT_KEY_ID = "receipt-1"

SIM_ROOT_SEED = bytes([0x5A]) * 32
"""Ed25519 seed of the root that signs simulated quotes; a verifier trusts it only in demo mode."""

_P384_ORDER = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    16,
)
NRAS_KEY_ID = "nras-sim-1"
NRAS_KEY_SECRET = int.from_bytes(bytes([0x7A]) * 48, "big") % _P384_ORDER
"""P-384 private scalar of the simulated NRAS verdict signer."""
NRAS_ROGUE_SECRET = int.from_bytes(bytes([0x7B]) * 48, "big") % _P384_ORDER
"""A P-384 scalar whose key is in no JWKS: verdicts signed with it must be refused."""

TEST_API_KEY = "sim-test-key"
"""The bearer key the simulators accept unless told otherwise."""


def ed25519_public_hex(seed: bytes) -> str:
    """Raw Ed25519 public key of ``seed`` as lowercase hex."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def sim_root_public_key() -> bytes:
    """The 32-byte public key a demo-mode verifier trusts for simulated quotes."""
    return bytes.fromhex(ed25519_public_hex(SIM_ROOT_SEED))
