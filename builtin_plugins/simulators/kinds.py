"""The simulator kinds by name: which app to build and which port each listens on by default.

Light on purpose (no aiohttp import), so building the ``enclava`` parser stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from aiohttp import web

    from builtin_plugins.simulators.app import SimulatorOptions

__all__ = ["DEFAULT_PORTS", "KINDS", "SimulatorKind", "build_app"]

SimulatorKind = Literal["privatemode", "redpill"]
KINDS: tuple[str, ...] = get_args(SimulatorKind)
DEFAULT_PORTS: dict[str, int] = {"privatemode": 8080, "redpill": 8090}
"""8080 is the privatemode-proxy's own default port."""


def build_app(kind: str, options: SimulatorOptions) -> web.Application:
    """The aiohttp app of simulator ``kind`` (imports the app modules on first use)."""
    if kind == "privatemode":
        from builtin_plugins.simulators.privatemode import create_privatemode_app

        return create_privatemode_app(options)
    if kind == "redpill":
        from builtin_plugins.simulators.redpill import create_redpill_app

        return create_redpill_app(options)
    raise ValueError(f"unknown simulator {kind!r}; choose one of {', '.join(KINDS)}")
