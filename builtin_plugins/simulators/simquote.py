"""SIMULATED TDX quotes: a fixed-format blob signed by the simulator's test root, never by Intel.

The RedPill simulator serves these where the real service serves an Intel TDX quote
(``intel_quote`` of ``/v1/attestation/report``, ``attestation.evidence.quote`` of
``/v1/aci/attestation``), as lowercase hex. A real DCAP verifier rejects them (wrong magic, no
PCK chain); a verifier in demo mode accepts them only under :func:`keys.sim_root_public_key`.

Format, version 1 (integers big-endian, 200 bytes in all)::

    offset  size  field
         0    16  magic        ASCII "ENCLAVA-SIMQUOTE"
        16     2  version      1
        18     2  tee_type     0x0081 (TDX, as in an Intel quote header)
        20     1  tcb_status   0 UpToDate, 1 SWHardeningNeeded, 2 OutOfDate, 3 Revoked
        21     3  reserved     zero
        24    48  mr_td        SHA-384 of b"enclava-simulator-workload"
        72    64  report_data  the 64 bytes the workload binds (see eip191 / aci_crypto)
       136    64  signature    Ed25519 by the simulator root over bytes 0..135
"""

from __future__ import annotations

import hashlib
import struct

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from builtin_plugins.simulators.keys import SIM_ROOT_SEED

__all__ = [
    "MAGIC",
    "QUOTE_SIZE",
    "SIM_MR_TD",
    "TCB_STATUSES",
    "SimQuote",
    "SimQuoteError",
    "build_sim_quote",
    "parse_sim_quote",
    "verify_sim_quote",
]

MAGIC = b"ENCLAVA-SIMQUOTE"
VERSION = 1
TEE_TYPE_TDX = 0x0081
QUOTE_SIZE = 200
SIGNED_SIZE = 136
SIM_MR_TD = hashlib.sha384(b"enclava-simulator-workload").digest()
TCB_STATUSES = ("UpToDate", "SWHardeningNeeded", "OutOfDate", "Revoked")
_HEADER = struct.Struct(">16sHHB3s48s64s")


class SimQuoteError(ValueError):
    """A blob that is not a well-formed simulated quote, or whose signature does not verify."""


class SimQuote(msgspec.Struct, frozen=True):
    """The parsed fields of a simulated quote."""

    version: int
    tee_type: int
    tcb_status: str
    mr_td: bytes
    report_data: bytes
    signature: bytes
    signed_bytes: bytes


def build_sim_quote(
    report_data: bytes, *, tcb_status: str = "UpToDate", root_seed: bytes = SIM_ROOT_SEED
) -> bytes:
    """A signed simulated quote binding ``report_data`` (exactly 64 bytes)."""
    if len(report_data) != 64:
        raise SimQuoteError("report_data is 64 bytes")
    status = TCB_STATUSES.index(tcb_status)
    body = _HEADER.pack(MAGIC, VERSION, TEE_TYPE_TDX, status, bytes(3), SIM_MR_TD, report_data)
    return body + Ed25519PrivateKey.from_private_bytes(root_seed).sign(body)


def parse_sim_quote(quote: bytes) -> SimQuote:
    """Split a simulated quote into its fields; no signature check."""
    if len(quote) != QUOTE_SIZE or not quote.startswith(MAGIC):
        raise SimQuoteError("not a simulated quote")
    _, version, tee_type, status, _, mr_td, report_data = _HEADER.unpack(quote[:SIGNED_SIZE])
    if version != VERSION or status >= len(TCB_STATUSES):
        raise SimQuoteError(f"unsupported simulated quote version {version} or status {status}")
    return SimQuote(
        version=version,
        tee_type=tee_type,
        tcb_status=TCB_STATUSES[status],
        mr_td=mr_td,
        report_data=report_data,
        signature=quote[SIGNED_SIZE:],
        signed_bytes=quote[:SIGNED_SIZE],
    )


def verify_sim_quote(quote: bytes, trusted_root: bytes) -> SimQuote:
    """Parse ``quote`` and check its signature under ``trusted_root`` (raw Ed25519 public key)."""
    parsed = parse_sim_quote(quote)
    try:
        Ed25519PublicKey.from_public_bytes(trusted_root).verify(
            parsed.signature, parsed.signed_bytes
        )
    except InvalidSignature as exc:
        raise SimQuoteError(
            "simulated quote signature does not verify under the trusted root"
        ) from exc
    return parsed
