"""Plugin managers for kernel tests: the kernel plus only the plugins a test names."""

from __future__ import annotations

from kernel.plugins import PluginManager

__all__ = ["kernel_plugins"]


def kernel_plugins(*extra: object) -> PluginManager:
    """Only the health builtin (essential) and ``extra``: kernel behaviour without features."""
    return PluginManager(
        builtins=("builtin_plugins.health",),
        essential={"health"},
        extra=extra,
        load_entry_points=False,
    )
