"""The ``[tracing]`` settings section (``ENCLAVA_TRACING_*``)."""

from __future__ import annotations

import msgspec

__all__ = ["TracingSettings"]


class TracingSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``[tracing]``: ``enabled`` exports OpenTelemetry spans over OTLP/HTTP to
    ``otlp_endpoint`` (the full URL, e.g. ``http://collector:4318/v1/traces``) as
    ``service_name``; ``sample_ratio`` of new traces is kept (an incoming ``traceparent``'s
    sampling decision is followed). Enabling it without an endpoint refuses to start."""

    enabled: bool = False
    otlp_endpoint: str = ""
    service_name: str = "enclava"
    sample_ratio: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.sample_ratio <= 1.0:
            raise ValueError("sample_ratio must be between 0 and 1")
        if not self.service_name.strip():
            raise ValueError("service_name must not be empty")
        if self.otlp_endpoint and not self.otlp_endpoint.startswith(("http://", "https://")):
            raise ValueError(
                "otlp_endpoint must be an http:// or https:// URL (OTLP over HTTP, e.g."
                " http://collector:4318/v1/traces)"
            )
