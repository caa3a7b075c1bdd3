"""Shipped plugins built once per session (componentize-py output cached by source digest in
``.cache/enclava/wasm``, native code in ``.cache/enclava/native``) and installed into a fresh
plugins folder per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from builtin_plugins.wasm_plugins.build import build_plugin

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "enclava"
SOURCES = {
    "hello": REPO / "plugins" / "hello",
    "pii_redactor": REPO / "plugins" / "pii_redactor",
    "hostile": Path(__file__).parent / "hostile",
}
Install = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def built() -> dict[str, Path]:
    """Each plugin folder with its component built (at most one componentize-py run each)."""
    for folder in SOURCES.values():
        build_plugin(folder, CACHE / "wasm")
    return SOURCES


@pytest.fixture
def install(built: dict[str, Path], tmp_path: Path) -> Install:
    """``install("hello", ...)`` → ``ENCLAVA_WASM_PLUGINS_*`` settings serving those plugins."""

    def run(*names: str, **env: str) -> dict[str, str]:
        directory = tmp_path / "plugins"
        for name in names:
            (directory / name).mkdir(parents=True, exist_ok=True)
            for file in ("plugin.toml", "plugin.wasm"):
                shutil.copyfile(built[name] / file, directory / name / file)
        return {
            "ENCLAVA_WASM_PLUGINS_DIRECTORY": str(directory),
            "ENCLAVA_WASM_PLUGINS_CACHE_DIR": str(CACHE / "native"),
            **env,
        }

    return run
