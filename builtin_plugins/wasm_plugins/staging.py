"""The fixed layout ``enclava plugin build`` hands to componentize-py. Whatever the plugin's
folder, the cache or the working directory, componentize-py sees the same relative paths, the
same bytes and the same file times, and nothing of the building machine's Python::

    <root>/app/<plugin sources>      -p app (guest path /0)
    <root>/app/enclava_sdk/*.py      the SDK, never the rest of site-packages
    <root>/app/enclava_entry.py      imports the plugin's entry module
    <root>/wit/*.wit                 -d wit
    <root>/env/lib/site-packages/    empty: $VIRTUAL_ENV, so componentize-py adds no host packages
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

import enclava_sdk

from kernel.errors import ConfigError

__all__ = ["ENTRY", "FIXED_MTIME", "build_inputs", "sdk_root", "stage", "wit_dir"]

ENTRY = """import {module}
from enclava_sdk.guest import world_for

WitWorld = world_for({module})
"""
FIXED_MTIME = 315532800
"""1980-01-01T00:00:00Z, the zip epoch: every staged file and folder carries this time."""
_SKIPPED = frozenset({"tests", "__pycache__", ".pytest_cache", "dist"})
_RESERVED = ("enclava_sdk", "enclava_entry.py")


def sdk_root() -> Path:
    """The folder holding ``enclava_sdk/`` (put on the guest's path)."""
    return Path(enclava_sdk.__file__).resolve().parent.parent


def wit_dir() -> Path:
    """``sdk/wit`` in a checkout, ``enclava_sdk/wit`` in an installed wheel."""
    package = Path(enclava_sdk.__file__).resolve().parent
    installed = package / "wit"
    return installed if installed.is_dir() else package.parent / "wit"


def _plugin_sources(folder: Path) -> list[tuple[str, Path]]:
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if (
            path.is_file()
            and path.suffix in (".py", ".toml")
            and not _SKIPPED & set(relative.parts)
        ):
            if relative.parts[0] in _RESERVED:
                raise ConfigError(f"{folder / relative.parts[0]}: the name is reserved for the SDK")
            found.append((f"app/{PurePosixPath(relative)}", path))
    return found


def build_inputs(folder: Path) -> list[tuple[str, Path]]:
    """``(staged name, source file)`` of every file the build reads, sorted by staged name."""
    package = sdk_root() / "enclava_sdk"
    sdk = [
        (f"app/enclava_sdk/{PurePosixPath(p.relative_to(package))}", p)
        for p in package.rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    wit = [(f"wit/{p.name}", p) for p in wit_dir().glob("*.wit")]
    return sorted(_plugin_sources(folder) + sdk + wit)


def _block_bytecode(root: Path) -> None:
    # The pre-init interpreter writes __pycache__ into the folders it imports from, which
    # changes their mtimes mid-build; a plain file of that name makes those writes fail quietly.
    for package in [root / "app", *(p.parent for p in (root / "app").rglob("__init__.py"))]:
        (package / "__pycache__").write_bytes(b"")


def stage(folder: Path, entry: str, root: Path) -> None:
    """Lay ``folder``'s sources, the SDK and the WIT world out under the empty folder ``root``."""
    for name, source in build_inputs(folder):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (root / "app" / "enclava_entry.py").write_text(ENTRY.format(module=entry))
    (root / "env" / "lib" / "site-packages").mkdir(parents=True)
    _block_bytecode(root)
    for path in [*root.rglob("*"), root]:
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
