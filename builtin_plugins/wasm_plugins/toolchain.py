"""Finds componentize-py, the compiler ``enclava plugin build`` runs. It is a dev extra, so a
base install has none: the lookup then says in one line what to install, instead of failing
deep inside a build with a traceback."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import msgspec

from kernel.errors import ConfigError

__all__ = ["TOOLCHAIN_ENV", "Toolchain", "find_toolchain", "install_hint"]

TOOLCHAIN_ENV = "COMPONENTIZE_PY"
"""The componentize-py program to run (default: the one installed beside this Python). Not an
``ENCLAVA_*`` name: those are settings, and the settings loader refuses unknown ones."""
_PROGRAM = "componentize-py"


class Toolchain(msgspec.Struct, frozen=True):
    """The componentize-py program and the version it reports (part of every cache key)."""

    executable: str
    version: str


def _requirement() -> str:
    """componentize-py as the ``dev`` extra pins it, read from the installed metadata."""
    try:
        declared = requires("enclava") or []
    except PackageNotFoundError:
        declared = []
    for line in declared:
        spec = line.split(";")[0].strip()
        if spec.startswith(_PROGRAM):
            return spec
    return _PROGRAM


def install_hint() -> str:
    """The command that installs the pinned componentize-py into the running environment."""
    pip = f"{shlex.quote(sys.executable)} -m pip install {shlex.quote(_requirement())}"
    return f"{pip} (it comes with enclava's dev extra)"


def _version(executable: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603
            [executable, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise ConfigError(
            f"{executable} does not run ({exc}); install it: {install_hint()}"
        ) from None
    words = done.stdout.split()
    if done.returncode != 0 or len(words) != 2 or words[0] != _PROGRAM:
        raise ConfigError(f"{executable} is not componentize-py; install it: {install_hint()}")
    return words[1]


def find_toolchain(environ: Mapping[str, str] | None = None) -> Toolchain:
    """componentize-py from ``$COMPONENTIZE_PY`` or beside ``sys.executable``; ConfigError
    naming what to install when there is none."""
    env = os.environ if environ is None else environ
    chosen = env.get(TOOLCHAIN_ENV, "")
    beside_python = str(Path(sys.executable).parent)
    found = shutil.which(chosen or _PROGRAM, path=None if chosen else beside_python)
    if found is None:
        where = f"at {TOOLCHAIN_ENV}={chosen}" if chosen else f"in {beside_python}"
        raise ConfigError(f"componentize-py is not installed {where}; install it: {install_hint()}")
    return Toolchain(executable=found, version=_version(found))
