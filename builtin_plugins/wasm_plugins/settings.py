"""The ``[wasm_plugins]`` section: where plugins live, and the admin's runtime decisions.

``enabled``, ``approved``, ``config`` and ``fail_open`` are written through the admin API as
runtime settings (persisted in SQL and announced to every replica by the kernel); a plugin runs
only while it is enabled and its current permissions digest is the one an admin approved, or it
is listed in ``auto_enable`` by the operator.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["WasmPluginsSettings"]


class WasmPluginsSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Sandboxed plugin host settings."""

    directory: str = "plugins"
    """Folder holding ``<name>/plugin.toml`` and its built ``.wasm``."""
    cache_dir: str = ""
    """Native compile cache; empty means ``<data_dir>/wasm-cache``."""
    threads: int = 4
    """Threads compiling and loading components. Calls do not share them: each plugin runs its
    calls on ``limits.instances`` threads of its own (as many again for its chat filter)."""
    max_consecutive_traps: int = 5
    """Traps in a row after which a plugin is disabled on every replica (and audited)."""
    max_upload_bytes: int = 64 * 1024 * 1024
    auto_enable: list[str] = []
    """Operator-trusted plugins: enabled and approved at boot."""
    enabled: list[str] = []
    disabled: list[str] = []
    """Plugins an admin (or the trap policy) turned off, ``auto_enable`` ones included."""
    approved: dict[str, str] = {}
    """Plugin name → the permissions digest an admin approved."""
    fail_open: list[str] = []
    """Plugins whose failing chat filter lets the request through instead of refusing it."""
    config: dict[str, dict[str, Any]] = {}

    def __post_init__(self) -> None:
        if not 1 <= self.threads <= 64:
            raise ValueError("threads must be within 1..64")
        if self.max_consecutive_traps < 1:
            raise ValueError("max_consecutive_traps must be at least 1")
