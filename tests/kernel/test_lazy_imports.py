"""Idle memory per worker: what a gateway that does not use a feature never imports.

wasmtime (~15 MiB resident) loads with the first sandboxed plugin that becomes active, and
Litestar's pydantic plugins (~7 MiB) only when something already uses pydantic. The boot check
runs in a fresh interpreter, since this one has imported everything other tests needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
from litestar.plugins.pydantic import PydanticInitPlugin
from support.plugins import kernel_plugins

from kernel.app import create_app

_BOOT = """
import asyncio, sys
from litestar.testing import TestClient
from kernel.app import create_app
from kernel.operations import run_migrations
from kernel.plugins import PluginManager
from kernel.settings import load_settings

plugins = PluginManager()
settings = load_settings(plugin_schemas=plugins.settings_schemas())
asyncio.run(run_migrations(settings, plugins))
with TestClient(create_app(settings, plugins=plugins)) as client:
    assert client.get("/health/ready").status_code == 200
    print(" ".join(sorted(m for m in ("wasmtime", "pydantic") if m in sys.modules)))
"""


def test_boot_with_every_builtin_and_no_sandboxed_plugin_loads_neither(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    env |= {"ENCLAVA_DATA_DIR": str(tmp_path), "ENCLAVA_REDPILL_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-c", _BOOT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_pydantic_already_in_use_keeps_litestars_pydantic_plugins(
    make_settings: Any, sqlite_url: str
) -> None:
    assert pydantic.VERSION  # imported here, as by a plugin whose routes use pydantic models
    app = create_app(make_settings(sqlite_url), plugins=kernel_plugins())
    assert any(isinstance(plugin, PydanticInitPlugin) for plugin in app.plugins)
