"""The WebAssembly sandbox host: third-party plugins run as wasmtime components.

:mod:`manifest` validates ``plugin.toml``; :mod:`engine` owns the one Engine, its epoch ticker
and the native compile cache; :mod:`imports` builds each plugin's linker with only the host
functions its manifest was granted, and :mod:`clocks` the WASI clock bounded by the call's
:mod:`deadline`; :mod:`pool` keeps warm instances under a memory cap; :mod:`slots` gives each
plugin its own call threads (:mod:`lanes`); :mod:`plugin` runs calls off the event loop with
deadlines and metrics, failing with :mod:`failures`. Nothing here knows which plugins exist or
what they do.

``SandboxEngine`` and ``SandboxedPlugin`` are imported on first use: wasmtime (about 15 MiB of
resident memory) is loaded only once a sandboxed plugin is compiled, not by a gateway that
merely knows the manifest format or the failure type.
"""

from typing import TYPE_CHECKING, Any

from kernel.sandbox.failures import CallFailed
from kernel.sandbox.manifest import ABI_VERSION, Manifest, load_manifest

if TYPE_CHECKING:
    from kernel.sandbox.engine import SandboxEngine
    from kernel.sandbox.plugin import SandboxedPlugin

__all__ = [
    "ABI_VERSION",
    "CallFailed",
    "Manifest",
    "SandboxEngine",
    "SandboxedPlugin",
    "load_manifest",
]


def __getattr__(name: str) -> Any:
    """``SandboxEngine`` and ``SandboxedPlugin``, imported (with wasmtime) when first asked for."""
    if name == "SandboxEngine":
        from kernel.sandbox.engine import SandboxEngine

        return SandboxEngine
    if name == "SandboxedPlugin":
        from kernel.sandbox.plugin import SandboxedPlugin

        return SandboxedPlugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
