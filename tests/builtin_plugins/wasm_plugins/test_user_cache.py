"""``user_cache_dir``: the XDG cache directory, never a folder relative to the working one."""

from __future__ import annotations

from pathlib import Path

from builtin_plugins.wasm_plugins.user_cache import user_cache_dir


def test_xdg_cache_home_wins() -> None:
    env = {"XDG_CACHE_HOME": "/var/cache/me", "HOME": "/home/me"}
    assert user_cache_dir(env) == Path("/var/cache/me/enclava")


def test_home_cache_when_xdg_is_unset_empty_or_relative() -> None:
    for xdg in ({}, {"XDG_CACHE_HOME": ""}, {"XDG_CACHE_HOME": "rel/cache"}):
        assert user_cache_dir({**xdg, "HOME": "/home/me"}) == Path("/home/me/.cache/enclava")
