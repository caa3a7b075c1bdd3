"""``find_toolchain``: componentize-py beside this Python or named by ``$COMPONENTIZE_PY``;
without it, one line saying what to install."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from builtin_plugins.wasm_plugins.toolchain import TOOLCHAIN_ENV, find_toolchain, install_hint
from kernel.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_installed_componentize_py_is_found_with_its_version() -> None:
    tool = find_toolchain({})
    assert Path(tool.executable).parent == Path(sys.executable).parent
    assert tool.version.count(".") == 2


def test_a_missing_program_names_the_pinned_install(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        find_toolchain({TOOLCHAIN_ENV: str(tmp_path / "nope")})
    message = str(raised.value)
    assert "\n" not in message
    assert f"{TOOLCHAIN_ENV}={tmp_path / 'nope'}" in message
    assert install_hint() in message


def test_a_program_that_is_not_componentize_py_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not componentize-py"):
        find_toolchain({TOOLCHAIN_ENV: sys.executable})


def test_the_hint_installs_the_dev_extra_pin() -> None:
    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pinned = next(r for r in dev["dev"] if r.startswith("componentize-py"))
    bounds = sorted(pinned.removeprefix("componentize-py").split(","))
    hint = install_hint()
    assert hint.startswith(f"{sys.executable} -m pip install 'componentize-py")
    assert all(bound in hint for bound in bounds)
