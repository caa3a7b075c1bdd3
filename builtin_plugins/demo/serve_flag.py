"""``enclava serve --demo``: both providers pointed at simulators the server runs on loopback.

The flag decides everything before the app starts (components read provider settings when
they are built, after startup hooks): it picks the simulator ports ([demo] ports, else free
ones) and returns the ``ENCLAVA_*`` variables that enable ``[demo]``, point ``[privatemode]``
and ``[redpill]`` at ``http://127.0.0.1:PORT/v1`` with the simulators' public test key and
retry pending attestations every second. It
refuses (ConfigError, exit 3) more than one worker, since the simulators live in the server
process, and any provider URL the operator set that is not loopback: a demo must never be
mistaken for, or reach, a real provider.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping
from typing import Any

from builtin_plugins.demo.settings import SECTION, DemoSettings
from builtin_plugins.demo.urls import DEMO_API_KEY, SIMULATOR_HOST, is_loopback_url, simulator_url
from kernel.errors import ConfigError
from kernel.settings import Settings, mask_secrets
from kernel.types import ServeOption

__all__ = ["PROVIDER_SECTIONS", "SERVE_OPTION", "prepare_demo"]

PROVIDER_SECTIONS = ("privatemode", "redpill")
"""The provider sections demo mode takes over, in the order their ports are listed."""

HELP = (
    "demo mode: run SIMULATED Privatemode and RedPill providers inside the server, with public "
    "test keys (nothing is confidential; refuses real provider URLs and --workers > 1)"
)


def _refuse_real_urls(configured: Mapping[str, Any]) -> None:
    for section in PROVIDER_SECTIONS:
        values = configured.get(section)
        url = values.get("url") if isinstance(values, Mapping) else None
        if url is not None and not is_loopback_url(str(url)):
            shown = mask_secrets({"url": str(url)})["url"]
            raise ConfigError(
                f"--demo runs against simulated providers only, but [{section}] url is "
                f"{shown} (from ENCLAVA_{section.upper()}_URL or the config file); "
                "unset it or drop --demo"
            )


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:  # held open together, so the ports differ
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((SIMULATOR_HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _ports(demo: DemoSettings, server_port: int) -> tuple[int, int]:
    free = _free_ports(2)
    ports = (demo.privatemode_port or free[0], demo.redpill_port or free[1])
    if len({*ports, server_port}) < 3:
        raise ConfigError(
            f"--demo needs different ports for the server ({server_port}) and the "
            f"simulators (privatemode {ports[0]}, redpill {ports[1]}); see [demo] ports"
        )
    return ports


def prepare_demo(settings: Settings, configured: Mapping[str, Any]) -> dict[str, str]:
    """The ``ENCLAVA_*`` variables of demo mode; ConfigError when it must not start."""
    server = settings.kernel.server
    if server.workers > 1:
        raise ConfigError(
            "--demo runs the simulated providers inside the server process: use one worker"
        )
    _refuse_real_urls(configured)
    ports = _ports(settings.section(SECTION, DemoSettings), server.port)
    env = {"ENCLAVA_DEMO_ENABLED": "true", "ENCLAVA_ATTESTATION_RETRY_SECONDS": "1"}
    for section, port in zip(PROVIDER_SECTIONS, ports, strict=True):
        prefix = f"ENCLAVA_{section.upper()}_"
        env[f"ENCLAVA_DEMO_{section.upper()}_PORT"] = str(port)
        env[f"{prefix}ENABLED"] = "true"
        env[f"{prefix}URL"] = simulator_url(port)
        env[f"{prefix}API_KEY"] = DEMO_API_KEY
        env[f"{prefix}API_KEY_FILE"] = ""
    return env


SERVE_OPTION = ServeOption(flag="--demo", help=HELP, prepare=prepare_demo)
"""What the plugin contributes through ``enclava_serve_options``."""
