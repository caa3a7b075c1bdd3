"""Where ``enclava plugin build|test`` keep built components when ``--cache`` says nothing:
the user's cache directory, so the cache does not depend on the folder a command runs in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["user_cache_dir"]


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/enclava``, or ``~/.cache/enclava`` when that is unset or relative."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "enclava"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".cache" / "enclava"
