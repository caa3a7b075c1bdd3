"""In-memory inspection of request headers: size and count limits, smuggling tells, scanners.

One pass over the raw ASGI header list; no allocation beyond the user agent on the happy path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from builtin_plugins.threat_detection.policy import Policy

__all__ = ["Finding", "inspect_headers"]


class Finding(msgspec.Struct, frozen=True):
    """Why a request is refused: ``kind`` is ``header_anomaly`` or ``scanner``."""

    kind: str
    reason: str
    details: dict[str, Any] = {}


def _header_anomaly(
    policy: Policy, count: int, total: int, lengths: int, chunked: bool
) -> Finding | None:
    settings = policy.settings
    if count > settings.max_header_count:
        return Finding("header_anomaly", "too_many_headers", {"header_count": count})
    if total > settings.max_header_bytes:
        return Finding("header_anomaly", "headers_too_large", {"header_bytes": total})
    if lengths > 1 or (lengths and chunked):
        # Conflicting framing headers are how request smuggling starts.
        return Finding("header_anomaly", "conflicting_length_headers", {})
    return None


def inspect_headers(policy: Policy, headers: Iterable[tuple[bytes, bytes]]) -> Finding | None:
    """The first problem with ``headers`` (lower-cased ASGI names), or None."""
    count = total = lengths = 0
    chunked = False
    user_agent = b""
    for name, value in headers:
        count += 1
        total += len(name) + len(value)
        if name == b"user-agent":
            user_agent = value
        elif name == b"content-length":
            lengths += 1
        elif name == b"transfer-encoding":
            chunked = True
    if policy.enabled("header_anomalies"):
        finding = _header_anomaly(policy, count, total, lengths, chunked)
        if finding is not None:
            return finding
    if user_agent and policy.enabled("scanner_user_agents"):
        pattern = policy.scanner_match(user_agent)
        if pattern is not None:
            return Finding("scanner", "scanner_user_agent", {"pattern": pattern})
    return None
