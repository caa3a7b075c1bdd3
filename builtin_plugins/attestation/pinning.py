"""aci/1 channel pinning (spec §1.1, §3.1): the provider's TLS key must be one the attested
keyset lists in ``tls_public_keys``.

After every aci/1 attestation the provider's origin is pinned, through the kernel's HTTP seam
(:meth:`kernel.http.HttpClients.pin`), to the keyset's ``spki_sha256`` values; prompts then only
travel over connections whose server key hashes to one of them, and a mismatch fails the
connection (the provider's error names it, its circuit counts it). A keyset that lists TLS keys
for a provider reached over plain HTTP cannot be honoured: the verdict is refused. A keyset
listing none cannot pin anything, so it is refused too (fail closed: an unpinned channel would
let anyone with a WebPKI certificate for the origin read the prompts), except for a provider on
loopback (a local simulator or proxy: there is no network channel to pin) or a verdict under
the operator's test roots (``test-root``, labelled on every answer; :mod:`.extra_roots`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from builtin_plugins.attestation.extra_roots import TEST_ROOT_LABEL
from builtin_plugins.attestation.verdicts import Verdict
from kernel.http import HttpClients, is_loopback_url

__all__ = ["NO_TLS_KEYS", "apply_pins", "tls_pins"]

NO_TLS_KEYS = (
    "the attested keyset lists no tls_public_keys: the provider's TLS channel cannot be pinned "
    "(aci/1 §3.1), refused"
)


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
        if is_loopback_url(url) or verdict.label == TEST_ROOT_LABEL:
            return verdict
        return _refused(verdict, NO_TLS_KEYS)
    try:
        await http.pin(url, pins)
    except ValueError as exc:
        return _refused(verdict, f"the keyset pins TLS keys but {exc}")
    return verdict


def _refused(verdict: Verdict, reason: str) -> Verdict:
    return msgspec.structs.replace(
        verdict, valid=False, reason=reason, expires_at=verdict.checked_at
    )
