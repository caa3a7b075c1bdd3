"""The ``[metrics]`` settings section (``ENCLAVA_METRICS_*``)."""

from __future__ import annotations

import msgspec

__all__ = ["MIN_TOKEN_CHARS", "MetricsSettings"]

MIN_TOKEN_CHARS = 16


class MetricsSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``[metrics]``: ``enabled`` serves ``GET /metrics`` (Prometheus text format) and starts
    counting; scrapers send ``Authorization: Bearer <token>``. A metrics endpoint names
    providers, models and traffic volumes, so it is never open: enabling it without a token of
    at least 16 characters refuses to start."""

    enabled: bool = False
    token: str = ""

    def __post_init__(self) -> None:
        if self.token != self.token.strip():  # scrapers trim theirs: it could never match
            raise ValueError("token must not start or end with whitespace")
        if self.enabled and len(self.token) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"token of at least {MIN_TOKEN_CHARS} characters is required when metrics are"
                " enabled (scrapers send it as 'Authorization: Bearer <token>')"
            )
