"""What a verified quote measures: the TD (MRTD, RTMR0-3) and, for dstack, the app in RTMR3.

dstack extends RTMR3 with runtime events (``event_type`` 0x08000001) whose digest is
``sha384(event_type as 4 LE bytes || ":" || event || ":" || payload)``, chained as
``rtmr3 = sha384(rtmr3 || digest)`` from 48 zero bytes (Dstack-TEE/dstack ``cc-eventlog``).
:func:`replay_event_log` recomputes that chain from the report's ``event_log``; only when it
reproduces the quote's RTMR3 are the ``compose-hash`` and ``app-id`` events it carries trusted.
"""

from __future__ import annotations

import hashlib

import msgspec

from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = ["DSTACK_RUNTIME_EVENT", "Measurements", "replay_event_log", "runtime_event_digest"]

DSTACK_RUNTIME_EVENT = 0x08000001


class Measurements(msgspec.Struct, frozen=True, kw_only=True):
    """Measured values of one TD, lowercase hex; empty where the evidence carries none."""

    mr_td: str
    rtmr0: str = ""
    rtmr1: str = ""
    rtmr2: str = ""
    rtmr3: str = ""
    compose_hash: str = ""
    app_id: str = ""

    def as_dict(self) -> dict[str, str]:
        """The non-empty values by name."""
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v}

    def describe(self) -> str:
        """``name=value`` pairs for reasons and logs."""
        return ", ".join(f"{k}={v}" for k, v in self.as_dict().items())


class _Event(msgspec.Struct):
    imr: int
    event_type: int = 0
    digest: str = ""
    event: str = ""
    event_payload: str = ""


def runtime_event_digest(event_type: int, event: str, payload: bytes) -> bytes:
    """The SHA-384 digest dstack extends RTMR3 with for one runtime event."""
    data = event_type.to_bytes(4, "little") + b":" + event.encode() + b":" + payload
    return hashlib.sha384(data).digest()


def _digest(entry: _Event) -> bytes:
    try:
        payload = bytes.fromhex(entry.event_payload)
        logged = bytes.fromhex(entry.digest)
    except ValueError:
        raise AttestationRejected("the event log holds a value that is not hex") from None
    if entry.event_type != DSTACK_RUNTIME_EVENT:
        return logged
    digest = runtime_event_digest(entry.event_type, entry.event, payload)
    if logged and logged != digest:
        raise AttestationRejected(f"event log entry {entry.event!r} does not match its digest")
    return digest


def replay_event_log(event_log: str, *, rtmr3: str) -> dict[str, str]:
    """The ``compose-hash`` and ``app-id`` of an event log that replays to ``rtmr3``."""
    try:
        entries = msgspec.json.decode(event_log, type=list[_Event])
    except msgspec.DecodeError as exc:
        raise AttestationRejected(f"malformed event log: {exc}") from None
    register, found = bytes(48), {}
    for entry in (e for e in entries if e.imr == 3):
        register = hashlib.sha384(register + _digest(entry)).digest()
        if entry.event in ("compose-hash", "app-id"):
            found[entry.event.replace("-", "_")] = entry.event_payload.lower()
    if register.hex() != rtmr3.lower():
        raise AttestationRejected("the event log does not replay to the quote's RTMR3")
    return found
