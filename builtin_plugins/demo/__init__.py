"""Demo mode: ``enclava serve --demo`` serves SIMULATED providers, and says so loudly.

The ``--demo`` flag (:mod:`.serve_flag`) points Privatemode and RedPill at loopback simulators
before the app starts; at startup this plugin runs them in-process and prints a banner
(:mod:`.runtime`); a verifier that trusts only the simulator's test root keeps RedPill's
simulated attestations checked with our own nonces, and labels every status ``simulated``
(:mod:`.attestation`, :mod:`.verifier`). With ``[demo] enabled = false`` (the default) the
plugin contributes nothing but the flag.
"""

from __future__ import annotations

from collections.abc import Sequence

from builtin_plugins.demo.runtime import RUNTIME, DemoRuntime
from builtin_plugins.demo.serve_flag import SERVE_OPTION
from builtin_plugins.demo.settings import SECTION, DemoSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import BackgroundTask, ServeOption, SettingsSection, Verifier

__all__ = [
    "PLUGIN_NAME",
    "VERSION",
    "enclava_attestation_verifiers",
    "enclava_background_tasks",
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


@hookimpl
def enclava_attestation_verifiers(kernel: Kernel) -> Sequence[Verifier]:
    """The simulated-attestation verifiers while demo mode runs."""
    return _runtime(kernel).verifiers()


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> Sequence[BackgroundTask]:
    """The simulated-attestation refresher while demo mode runs."""
    return _runtime(kernel).tasks()
