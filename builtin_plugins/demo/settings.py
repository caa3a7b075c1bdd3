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
    free ones). Attestation timing is the ``[attestation]`` section's.
    """

    enabled: bool = False
    privatemode_port: int = 0
    redpill_port: int = 0

    def __post_init__(self) -> None:
        for port in (self.privatemode_port, self.redpill_port):
            if not 0 <= port <= 65535:
                raise ValueError("ports must be between 0 and 65535")
