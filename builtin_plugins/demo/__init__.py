"""Demo mode: ``enclava serve --demo`` serves SIMULATED providers, and says so loudly.

The ``--demo`` flag (:mod:`.serve_flag`) points Privatemode and RedPill at loopback simulators
before the app starts; at startup this plugin runs them in-process (the ``ProviderSimulators``
service) and prints a banner (:mod:`.runtime`), and has the attestation plugin trust the
simulator's test root (the ``SimulatedTrust`` service), so RedPill's simulated attestations are
checked with our own nonces by the production verifier and every status says ``simulated``.
With ``[demo] enabled = false`` (the default) the plugin contributes nothing but the flag.
"""

from __future__ import annotations

from collections.abc import Sequence

from builtin_plugins.demo.runtime import RUNTIME, DemoRuntime
from builtin_plugins.demo.serve_flag import SERVE_OPTION
from builtin_plugins.demo.settings import SECTION, DemoSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import ServeOption, SettingsSection

__all__ = [
    "PLUGIN_NAME",
    "VERSION",
    "enclava_serve_options",
    "enclava_settings_schema",
    "enclava_shutdown",
    "enclava_startup",
]

PLUGIN_NAME = "demo"
VERSION = "1.0.0"


def _runtime(kernel: Kernel) -> DemoRuntime:
    runtime = kernel.stash.get(RUNTIME)
    if runtime is None:
        runtime = kernel.stash[RUNTIME] = DemoRuntime(kernel)
    return runtime


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[demo]`` section (``ENCLAVA_DEMO_*``)."""
    return SettingsSection(name=SECTION, schema=DemoSettings)


@hookimpl
def enclava_serve_options() -> Sequence[ServeOption]:
    """``enclava serve --demo``."""
    return [SERVE_OPTION]


@hookimpl
async def enclava_startup(kernel: Kernel) -> None:
    """Start the simulators when ``[demo] enabled``."""
    await _runtime(kernel).start()


@hookimpl
async def enclava_shutdown(kernel: Kernel) -> None:
    """Stop the simulators."""
    await _runtime(kernel).stop()
