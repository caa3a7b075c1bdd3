"""Plugin managers for kernel tests: the kernel plus only the plugins a test names."""

from __future__ import annotations

from typing import Any

from kernel.plugins import PluginManager
from kernel.types import Principal

__all__ = ["BearerGood", "kernel_plugins"]


def kernel_plugins(*extra: object) -> PluginManager:
    """Only the health builtin (essential) and ``extra``: kernel behaviour without features."""
    return PluginManager(
        builtins=("builtin_plugins.health",),
        essential={"health"},
        extra=extra,
        load_entry_points=False,
    )


class BearerGood:
    """An authenticator on the public and internal surfaces: ``Bearer good`` is key ``k1``."""

    name = "bearer-good"
    surfaces = frozenset({"public", "internal"})

    async def authenticate(self, request: Any) -> Principal | None:
        if request.headers.get("authorization") == "Bearer good":
            return Principal(kind="api_key", id="k1", owner_id="u1")
        return None
