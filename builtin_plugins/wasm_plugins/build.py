"""``enclava plugin build``: componentize-py over the plugin's Python and the SDK → one
component, cached by a digest of every input so an unchanged plugin is never rebuilt."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import enclava_sdk
import msgspec

from kernel.errors import ConfigError
from kernel.sandbox import load_manifest

__all__ = ["BuildResult", "build_plugin", "sdk_root", "source_digest", "wit_dir"]

_ENTRY = """import {module}
from enclava_sdk.guest import world_for

WitWorld = world_for({module})
"""
_SKIPPED = frozenset({"tests", "__pycache__", ".pytest_cache", "dist"})


class BuildResult(msgspec.Struct, frozen=True):
    """The built component and its hash; ``cached`` when nothing was rebuilt."""

    wasm: str
    sha256: str
    cached: bool


def sdk_root() -> Path:
    """The folder holding ``enclava_sdk/`` (put on the guest's path)."""
    return Path(enclava_sdk.__file__).resolve().parent.parent


def wit_dir() -> Path:
    """``sdk/wit`` in a checkout, ``enclava_sdk/wit`` in an installed wheel."""
    package = Path(enclava_sdk.__file__).resolve().parent
    installed = package / "wit"
    return installed if installed.is_dir() else package.parent / "wit"


def _inputs(folder: Path) -> list[Path]:
    root = sdk_root()
    mine = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.suffix in (".py", ".toml")
        and not _SKIPPED & set(p.relative_to(folder).parts)
    ]
    sdk = sorted((root / "enclava_sdk").glob("*.py")) + sorted(wit_dir().glob("*.wit"))
    return mine + sdk


def source_digest(folder: Path) -> str:
    """A digest of the plugin's sources, the SDK, the WIT world and the build recipe."""
    recipe = f"componentize-py={version('componentize-py')};{_ENTRY}"
    digest = hashlib.sha256(recipe.encode())
    for path in _inputs(folder):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _componentize(folder: Path, entry: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        # Only the SDK's own modules go next to the plugin: never the rest of site-packages.
        package = Path(scratch) / "enclava_sdk"
        package.mkdir()
        for module in (sdk_root() / "enclava_sdk").glob("*.py"):
            shutil.copyfile(module, package / module.name)
        (Path(scratch) / "enclava_entry.py").write_text(_ENTRY.format(module=entry))
        command = [
            str(Path(sys.executable).with_name("componentize-py")),
            *("-d", str(wit_dir()), "-w", "plugin", "componentize"),
            *("-p", str(folder), "-p", scratch),
            *("enclava_entry", "-o", str(out)),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise ConfigError(f"componentize-py failed:\n{done.stderr.strip() or done.stdout.strip()}")


def build_plugin(folder: Path, cache_dir: Path) -> BuildResult:
    """Build ``folder`` into ``<folder>/<manifest.wasm>`` (from ``cache_dir`` when unchanged)."""
    manifest = load_manifest(folder / "plugin.toml")
    target = folder / manifest.wasm
    cached = cache_dir / f"{source_digest(folder)}.wasm"
    hit = cached.is_file()
    if not hit:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = (
            cache_dir / f".{cached.name}.{hashlib.sha256(str(folder).encode()).hexdigest()[:8]}"
        )
        _componentize(folder, manifest.entry, partial)
        partial.replace(cached)
    if not target.is_file() or target.read_bytes() != cached.read_bytes():
        shutil.copyfile(cached, target)
    sha256 = hashlib.sha256(target.read_bytes()).hexdigest()
    return BuildResult(wasm=str(target), sha256=sha256, cached=hit)
