"""Apps with the kernel and both provider plugins, pointed at in-process simulators.

``gateway(**ENCLAVA_env)`` runs an app and yields its kernel (Privatemode is off unless the env
turns it on, so no test reaches port 8080); ``privatemode`` / ``redpill`` run a fresh simulator
and an app pointed at it, with short timeouts so faults resolve fast. Apps run inside the test
body (``async with``), never in async fixtures, so their lifespan enters and exits in one task.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from support.plugins import kernel_plugins
from support.providers import Connect, Gateway, connected

from kernel.app import create_app
from kernel.runtime import Kernel
from kernel.settings import load_settings

PLUGINS = ("builtin_plugins.providers.privatemode", "builtin_plugins.providers.redpill")


@pytest.fixture
def build_app(sqlite_url: str, tmp_path: Path) -> Callable[..., Litestar]:
    """``build_app(**ENCLAVA_env)``: an app (not started) with the kernel and both plugins."""

    def build(**env: str) -> Litestar:
        manager = kernel_plugins(*(importlib.import_module(name) for name in PLUGINS))
        values = {
            "ENCLAVA_DATA_DIR": str(tmp_path / "data"),
            "ENCLAVA_DATABASE_URL": sqlite_url,
            "ENCLAVA_PLUGINS_RESYNC_SECONDS": "3600",
            "ENCLAVA_PRIVATEMODE_ENABLED": "false",
            **env,
        }
        settings = load_settings(env=values, plugin_schemas=manager.settings_schemas())
        return create_app(settings, plugins=manager)

    return build


@pytest.fixture
def gateway(build_app: Callable[..., Litestar], running: Any) -> Gateway:
    @contextlib.asynccontextmanager
    async def start(**env: str) -> AsyncIterator[Kernel]:
        app = build_app(**env)
        async with running(app):
            yield app.state.kernel

    return start


@pytest.fixture
def privatemode(gateway: Gateway) -> Connect:
    """``async with privatemode(**FIELDS) as (provider, sim)``: see :func:`connected`."""
    return functools.partial(connected, gateway, "privatemode")


@pytest.fixture
def redpill(gateway: Gateway) -> Connect:
    """``async with redpill(**FIELDS) as (provider, sim)``: see :func:`connected`."""
    return functools.partial(connected, gateway, "redpill")
