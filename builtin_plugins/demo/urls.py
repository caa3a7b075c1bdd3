"""Where demo mode's simulators live, and the loopback rule that keeps a demo off the network."""

from __future__ import annotations

import ipaddress

from yarl import URL

__all__ = ["SIMULATOR_HOST", "is_loopback_url", "simulator_url"]

SIMULATOR_HOST = "127.0.0.1"


def simulator_url(port: int) -> str:
    """The OpenAI-compatible base URL of the simulator listening on ``port``."""
    return f"http://{SIMULATOR_HOST}:{port}/v1"


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
