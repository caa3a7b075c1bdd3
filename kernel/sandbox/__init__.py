"""The WebAssembly sandbox host: third-party plugins run as wasmtime components.

:mod:`manifest` validates ``plugin.toml``; :mod:`engine` owns the one Engine, its epoch ticker
and the native compile cache; :mod:`imports` builds each plugin's linker with only the host
functions its manifest was granted, and :mod:`clocks` the WASI clock bounded by the call's
:mod:`deadline`; :mod:`pool` keeps warm instances under a memory cap; :mod:`slots` gives each
plugin its own call threads (:mod:`lanes`); :mod:`plugin` runs calls off the event loop with
deadlines and metrics, failing with :mod:`failures`. Nothing here knows which plugins exist or
what they do.
"""

from kernel.sandbox.engine import SandboxEngine
from kernel.sandbox.manifest import ABI_VERSION, Manifest, load_manifest
from kernel.sandbox.plugin import CallFailed, SandboxedPlugin

__all__ = [
    "ABI_VERSION",
    "CallFailed",
    "Manifest",
    "SandboxEngine",
    "SandboxedPlugin",
    "load_manifest",
]
