"""The ``[dashboard]`` settings section (``ENCLAVA_DASHBOARD_*``)."""

from __future__ import annotations

import msgspec

__all__ = ["SECTION", "DashboardSettings"]

SECTION = "dashboard"


class DashboardSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``[dashboard]``: ``live_refresh_seconds`` between two updates of the live overview;
    ``live_stream_seconds`` that one live stream lasts before the browser reconnects (and the
    session is checked anew)."""

    live_refresh_seconds: float = 5.0
    live_stream_seconds: float = 300.0

    def __post_init__(self) -> None:
        if not 0.05 <= self.live_refresh_seconds <= 3600:
            raise ValueError("live_refresh_seconds must be between 0.05 and 3600")
        if not self.live_refresh_seconds <= self.live_stream_seconds <= 86_400:
            raise ValueError("live_stream_seconds must be between live_refresh_seconds and 86400")
