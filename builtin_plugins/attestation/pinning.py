"""aci/1 channel pinning (spec §1.1, §3.1): the provider's TLS key must be one the attested
keyset lists in ``tls_public_keys``.

After every aci/1 attestation the provider's origin is pinned, through the kernel's HTTP seam
(:meth:`kernel.http.HttpClients.pin`), to the keyset's ``spki_sha256`` values; prompts then only
travel over connections whose server key hashes to one of them, and a mismatch fails the
connection (the provider's error names it, its circuit counts it). A keyset that lists TLS keys
for a provider reached over plain HTTP cannot be honoured: the verdict is refused. A keyset
listing none (the simulator's) leaves the origin unpinned.
"""

from __future__ import annotations

from typing import Any

import msgspec

from builtin_plugins.attestation.verdicts import Verdict
from kernel.http import HttpClients

__all__ = ["apply_pins", "tls_pins"]


def tls_pins(keyset: dict[str, Any]) -> frozenset[bytes]:
    """The SPKI SHA-256 hashes the keyset's ``tls_public_keys`` list (malformed entries are
    skipped: they can pin nothing)."""
    pins: set[bytes] = set()
    for entry in keyset.get("tls_public_keys") or []:
        value = entry.get("spki_sha256") if isinstance(entry, dict) else None
        try:
            digest = bytes.fromhex(str(value).removeprefix("sha256:"))
        except ValueError:
            continue
        if len(digest) == 32:
            pins.add(digest)
    return frozenset(pins)


async def apply_pins(http: HttpClients, url: str, verdict: Verdict) -> Verdict:
    """Pin ``url``'s origin to a valid aci/1 verdict's keyset; ``verdict`` made invalid when
    the pins cannot be applied."""
    if verdict.scheme != "aci" or not verdict.valid:
        return verdict
    pins = tls_pins(verdict.keyset)
    if not pins:
        return verdict
    try:
        await http.pin(url, pins)
    except ValueError as exc:
        reason = f"the keyset pins TLS keys but {exc}"
        return msgspec.structs.replace(
            verdict, valid=False, reason=reason, expires_at=verdict.checked_at
        )
    return verdict
