"""Where demo mode's simulators live and the public key they accept; the loopback rule
(:func:`kernel.http.is_loopback_url`) keeps a demo off the network."""

from __future__ import annotations

from kernel.http import is_loopback_url

__all__ = ["DEMO_API_KEY", "SIMULATOR_HOST", "is_loopback_url", "simulator_url"]

SIMULATOR_HOST = "127.0.0.1"

DEMO_API_KEY = "sim-test-key"
"""The PUBLIC key demo mode's simulators accept and its providers send (the simulators' own
default test key, so ``enclava simulate`` and a demo agree)."""


def simulator_url(port: int) -> str:
    """The OpenAI-compatible base URL of the simulator listening on ``port``."""
    return f"http://{SIMULATOR_HOST}:{port}/v1"
