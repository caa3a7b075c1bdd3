"""The loopback rule: a simulated trust anchor only ever attests providers on this machine."""

from __future__ import annotations

import ipaddress

from yarl import URL

__all__ = ["is_loopback_url"]


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` names this machine (``localhost``, 127.0.0.0/8 or ``::1``)."""
    try:
        host = URL(url).host
    except (TypeError, ValueError):
        return False
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
