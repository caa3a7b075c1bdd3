"""``enclava plugin build``: componentize-py over the plugin's Python and the SDK → one
component, cached by a digest of every input so an unchanged plugin is never rebuilt.

componentize-py runs in a staging folder of fixed layout (:mod:`.staging`) with relative paths
and a fixed environment, so the plugin's location, the cache and the working directory are no
input of the build."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import msgspec

from builtin_plugins.wasm_plugins.staging import (
    ENTRY,
    FIXED_MTIME,
    build_inputs,
    sdk_root,
    stage,
    wit_dir,
)
from builtin_plugins.wasm_plugins.toolchain import Toolchain, find_toolchain
from kernel.errors import ConfigError
from kernel.sandbox import load_manifest

__all__ = ["BuildResult", "Phase", "build_plugin", "sdk_root", "source_digest", "wit_dir"]

Phase = Callable[[str], AbstractContextManager[object]]
"""Wraps each step of a build (``phase("compiling with componentize-py")``), e.g. to show it."""
_RECIPE = "enclava-build/2"
"""Changes whenever the staging layout or the componentize-py command line changes."""
_KEPT_ENV = ("PATH", "HOME", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT")


class BuildResult(msgspec.Struct, frozen=True):
    """The built component and its hash; ``cached`` when nothing was rebuilt."""

    wasm: str
    sha256: str
    cached: bool


def _quiet(name: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


def source_digest(folder: Path, toolchain: Toolchain | None = None) -> str:
    """A digest of the plugin's sources, the SDK, the WIT world and the build recipe."""
    tool = toolchain or find_toolchain()
    recipe = f"{_RECIPE};componentize-py={tool.version};{ENTRY}"
    digest = hashlib.sha256(recipe.encode())
    for name, path in build_inputs(folder):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _environment(root: Path) -> dict[str, str]:
    kept = {name: os.environ[name] for name in _KEPT_ENV if name in os.environ}
    return {
        **kept,
        "VIRTUAL_ENV": str(root / "env"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "SOURCE_DATE_EPOCH": str(FIXED_MTIME),
        "LC_ALL": "C",
        "TZ": "UTC",
    }


def _componentize(folder: Path, entry: str, tool: Toolchain, out: Path) -> None:
    """Stage ``folder`` and write its component to ``out``."""
    with tempfile.TemporaryDirectory(prefix="enclava-build-") as scratch:
        root = Path(scratch)
        stage(folder, entry, root)
        command = [
            tool.executable,
            *("-q", "-d", "wit", "-w", "plugin", "componentize"),
            *("-p", "app", "enclava_entry", "-o", "plugin.wasm"),
        ]
        done = subprocess.run(  # noqa: S603
            command, cwd=root, env=_environment(root), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            detail = done.stderr.strip() or done.stdout.strip()
            raise ConfigError(f"componentize-py failed:\n{detail}")
        shutil.copyfile(root / "plugin.wasm", out)


def _compile_into(cache_dir: Path, digest: str, compile_to: Callable[[Path], None]) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = cache_dir / f"{digest}.wasm"
    partial = cache_dir / f".{digest}.{secrets.token_hex(8)}.partial"
    try:
        compile_to(partial)
        partial.replace(cached)
    finally:
        partial.unlink(missing_ok=True)
    return cached


def build_plugin(
    folder: Path, cache_dir: Path, *, phase: Phase = _quiet, toolchain: Toolchain | None = None
) -> BuildResult:
    """Build ``folder`` into ``<folder>/<manifest.wasm>`` (from ``cache_dir`` when unchanged)."""
    with phase("checking manifest"):
        manifest = load_manifest(folder / "plugin.toml")
    with phase("finding componentize-py"):
        tool = toolchain or find_toolchain()
    with phase("hashing sources"):
        digest = source_digest(folder, tool)
    cached = cache_dir / f"{digest}.wasm"
    hit = cached.is_file()
    if not hit:
        with phase("compiling with componentize-py"):
            compile_to = functools.partial(_componentize, folder, manifest.entry, tool)
            _compile_into(cache_dir, digest, compile_to)
    target = folder / manifest.wasm
    if not target.is_file() or target.read_bytes() != cached.read_bytes():
        shutil.copyfile(cached, target)
    sha256 = hashlib.sha256(target.read_bytes()).hexdigest()
    return BuildResult(wasm=str(target), sha256=sha256, cached=hit)
