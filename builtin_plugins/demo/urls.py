"""Where demo mode's simulators live, and the loopback rule that keeps a demo off the network."""

from __future__ import annotations

from builtin_plugins.attestation.loopback import is_loopback_url

__all__ = ["SIMULATOR_HOST", "is_loopback_url", "simulator_url"]

SIMULATOR_HOST = "127.0.0.1"


def simulator_url(port: int) -> str:
    """The OpenAI-compatible base URL of the simulator listening on ``port``."""
    return f"http://{SIMULATOR_HOST}:{port}/v1"
