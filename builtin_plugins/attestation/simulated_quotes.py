"""Quotes under a published TEST root: the simulator's quote format, verified by us.

``enclava simulate redpill`` serves quotes that Intel never signed: a 200-byte blob (the format
is documented in the simulator's ``simquote`` module; we read it from the spec, not the code).
Demo mode and ``allow_test_roots`` verify them here, with nothing imported from the simulator,
so a bug in the simulator's builder cannot hide in a shared parser::

    offset  size  field
         0    16  magic        ASCII "ENCLAVA-SIMQUOTE"
        16     2  version      1 (big-endian)
        18     2  tee_type     0x0081 (TDX)
        20     1  tcb_status   0 UpToDate, 1 SWHardeningNeeded, 2 OutOfDate, 3 Revoked
        21     3  reserved     zero
        24    48  mr_td
        72    64  report_data
       136    64  signature    Ed25519 by the root over bytes 0..135
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from builtin_plugins.attestation.quotes import STRICT_TCB, QuoteVerifier, VerifiedQuote, accept_tcb
from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = [
    "SIMULATOR_MR_TD",
    "SIMULATOR_ROOT",
    "TEST_QUOTE_MAGIC",
    "TestRootQuotes",
    "is_test_quote",
]

TEST_QUOTE_MAGIC = b"ENCLAVA-SIMQUOTE"
SIMULATOR_ROOT = bytes.fromhex("0d7550754e0800a5d237eef5826035766b9b3e5a15868a940ab289958788e3b0")
"""The simulator's published test root (public key of seed ``0x5a`` x 32): anyone can sign."""
SIMULATOR_MR_TD = (
    "567a4a97be4748bddcc30b771b7c86868956322f"
    "5b3874dbb613ac94a6a751d49a721cbb6b029bd13263df12233aeb9f"
)
"""The MRTD the simulator's quotes measure: SHA-384 of ``b"enclava-simulator-workload"``."""

_SIZE, _SIGNED = 200, 136
_STATUSES = ("UpToDate", "SWHardeningNeeded", "OutOfDate", "Revoked")


def is_test_quote(quote: bytes) -> bool:
    """Whether ``quote`` claims to be a test-root quote (it still has to verify)."""
    return quote.startswith(TEST_QUOTE_MAGIC)


def _fields(quote: bytes) -> tuple[str, bytes, bytes]:
    """(tcb status, mr_td, report data) of a well-formed test quote."""
    if len(quote) != _SIZE or not is_test_quote(quote):
        raise AttestationRejected("not a test-root quote")
    version = int.from_bytes(quote[16:18], "big")
    tee_type = int.from_bytes(quote[18:20], "big")
    status = quote[20]
    if version != 1 or tee_type != 0x0081 or status >= len(_STATUSES) or any(quote[21:24]):
        raise AttestationRejected(f"unsupported test-root quote (version {version})")
    return _STATUSES[status], quote[24:72], quote[72:136]


class TestRootQuotes:
    """Test-root quotes signed by one of ``roots`` (raw Ed25519 keys); a real quote goes to
    ``fallback`` (Intel DCAP under ``allow_test_roots``) or is refused (demo mode)."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        roots: tuple[bytes, ...],
        *,
        accepted_tcb: frozenset[str] = STRICT_TCB,
        fallback: QuoteVerifier | None = None,
    ) -> None:
        self._roots = [Ed25519PublicKey.from_public_bytes(root) for root in roots]
        self._accepted = accepted_tcb
        self._fallback = fallback

    async def verify(self, quote: bytes) -> VerifiedQuote:
        """The quote's contents once its signature verifies under a root and its TCB status is
        accepted (the workload is the trust policy's to judge)."""
        if not is_test_quote(quote) and self._fallback is not None:
            return await self._fallback.verify(quote)
        status, mr_td, report_data = _fields(quote)
        if not any(_signed_by(root, quote) for root in self._roots):
            raise AttestationRejected(
                "test-root quote signature does not verify under a trusted root"
            )
        accept_tcb(status, self._accepted)
        return VerifiedQuote(report_data=report_data, tcb_status=status, mr_td=mr_td.hex())


def _signed_by(root: Ed25519PublicKey, quote: bytes) -> bool:
    try:
        root.verify(quote[_SIGNED:], quote[:_SIGNED])
    except InvalidSignature:
        return False
    return True
