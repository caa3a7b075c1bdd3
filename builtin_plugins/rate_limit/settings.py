"""The ``[rate_limit]`` settings section: requests per minute for each kind of bucket."""

from __future__ import annotations

import re

import msgspec

__all__ = ["ANONYMOUS_BUCKET", "RateLimitSettings"]

ANONYMOUS_BUCKET = "anonymous"
"""The per-IP bucket of anonymous routes that name no bucket of their own."""

_BUCKET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _default_buckets() -> dict[str, int]:
    return {"login": 10, "refresh": 30}


class RateLimitSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Requests per minute: ``public_per_minute`` and ``internal_per_minute`` per API key or user
    on each surface (a key may carry its own limit); ``buckets`` (named by routes) and
    ``anonymous_per_minute`` (every other anonymous route, and bucket names not listed) per IP."""

    public_per_minute: int = 1000
    internal_per_minute: int = 300
    anonymous_per_minute: int = 60
    buckets: dict[str, int] = msgspec.field(default_factory=_default_buckets)

    def __post_init__(self) -> None:
        for name in ("public_per_minute", "internal_per_minute", "anonymous_per_minute"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for bucket, limit in self.buckets.items():
            if not _BUCKET_NAME.match(bucket):
                raise ValueError(f"bucket name {bucket!r} must be 1-64 of A-Z a-z 0-9 _ . -")
            if bucket == ANONYMOUS_BUCKET:
                raise ValueError(f"bucket name {bucket!r} is reserved for anonymous_per_minute")
            if limit < 1:
                raise ValueError(f"bucket {bucket!r} must allow at least 1 request per minute")
