"""The ``[demo]`` settings section (``ENCLAVA_DEMO_*``), written by ``enclava serve --demo``.

Set by hand it only pins ports: demo mode starts when ``enabled`` is true AND both providers
point at their simulators, which is what ``serve --demo`` arranges (see :mod:`.serve_flag`).
"""

from __future__ import annotations

import msgspec

__all__ = ["SECTION", "DemoSettings"]

SECTION = "demo"


class DemoSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``enabled``: run both provider simulators in-process and route to them.

    ``privatemode_port`` / ``redpill_port``: their loopback ports (0: ``serve --demo`` picks
    free ones). A verified simulated attestation is fetched again after
    ``attestation_ttl_seconds`` and trusted for at most twice that; models still pending or
    failed are retried every ``attestation_retry_seconds``.
    """

    enabled: bool = False
    privatemode_port: int = 0
    redpill_port: int = 0
    attestation_ttl_seconds: float = 300.0
    attestation_retry_seconds: float = 1.0

    def __post_init__(self) -> None:
        for port in (self.privatemode_port, self.redpill_port):
            if not 0 <= port <= 65535:
                raise ValueError("ports must be between 0 and 65535")
        if self.attestation_ttl_seconds < 1:
            raise ValueError("attestation_ttl_seconds must be at least 1")
        if not 0 < self.attestation_retry_seconds <= self.attestation_ttl_seconds:
            raise ValueError("need 0 < attestation_retry_seconds <= attestation_ttl_seconds")
