"""What route handlers receive by Litestar dependency injection.

Every handler may declare ``kernel: NamedDependency[Kernel]``, ``stores:
NamedDependency[Stores]`` or ``settings: NamedDependency[Settings]``; the app provides them
(:func:`app_dependencies`). A service of another plugin is declared on the handler (or its
router) with :func:`service`::

    @get("/answers", dependencies={"retriever": service(Retriever)})
    async def answers(retriever: NamedDependency[Retriever]) -> ...

(``NamedDependency`` marks the parameter as injected by name, as Litestar 2.23+ asks.)

The kernel itself is read from the application in :func:`kernel_of`, and nowhere else.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.di import NamedDependency, Provide

from kernel.runtime import Kernel
from kernel.settings import Settings
from kernel.storage.stores import Stores

__all__ = ["KERNEL_STATE_KEY", "NamedDependency", "app_dependencies", "kernel_of", "service"]

KERNEL_STATE_KEY = "kernel"


def kernel_of(app: Litestar) -> Kernel:
    """The kernel serving ``app`` (for guards and hooks that dependency injection cannot reach)."""
    kernel: Kernel = app.state[KERNEL_STATE_KEY]
    return kernel


def app_dependencies(kernel: Kernel) -> dict[str, Provide]:
    """``kernel``, ``stores`` and ``settings`` for every handler of the app."""

    def provide_kernel() -> Kernel:
        return kernel

    def provide_stores() -> Stores:
        return kernel.stores

    def provide_settings() -> Settings:
        return kernel.settings

    return {
        "kernel": Provide(provide_kernel, sync_to_thread=False),
        "stores": Provide(provide_stores, sync_to_thread=False),
        "settings": Provide(provide_settings, sync_to_thread=False),
    }


def service(contract: type[Any]) -> Provide:
    """A dependency resolving to the enabled implementation of ``contract``; when its plugin is
    disabled the request fails with 503 ``service_unavailable`` naming the plugin."""

    def provide(kernel: NamedDependency[Kernel]) -> Any:
        return kernel.service(contract)

    return Provide(provide, sync_to_thread=False)
