"""``stage``: componentize-py gets the same tree — names, bytes, file times — wherever the plugin
lives, and nothing of the building machine's Python."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from builtin_plugins.wasm_plugins.staging import FIXED_MTIME, build_inputs, stage
from kernel.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (
            p.read_bytes() if p.is_file() else b"/",
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
    }


def _copy_hello(parent: Path) -> Path:
    folder = parent / "deeper" / "hello"
    shutil.copytree(REPO / "plugins" / "hello", folder, ignore=shutil.ignore_patterns("*.wasm"))
    return folder


def test_two_locations_stage_the_same_tree(tmp_path: Path) -> None:
    first, second = _copy_hello(tmp_path / "a"), _copy_hello(tmp_path / "b" / "c")
    os.utime(second / "app.py", (1, 1))  # file times of the sources are no input
    stage(first, "app", tmp_path / "one")
    stage(second, "app", tmp_path / "two")
    one = _tree(tmp_path / "one")
    assert one == _tree(tmp_path / "two")
    assert {mtime for _, mtime in one.values()} == {FIXED_MTIME * 10**9}
    assert {"app/app.py", "app/enclava_sdk/guest.py", "wit/enclava-plugin.wit"} <= one.keys()
    assert not any(name.startswith("app/tests") for name in one)


def test_no_host_packages_and_no_bytecode_reach_the_guest(tmp_path: Path) -> None:
    stage(_copy_hello(tmp_path), "app", tmp_path / "staged")
    assert list((tmp_path / "staged" / "env" / "lib" / "site-packages").iterdir()) == []
    for package in ("app", "app/enclava_sdk"):
        assert (tmp_path / "staged" / package / "__pycache__").is_file()
    entry = (tmp_path / "staged" / "app" / "enclava_entry.py").read_text()
    assert entry.startswith("import app\n")


def test_inputs_are_named_by_their_staged_path(tmp_path: Path) -> None:
    folder = _copy_hello(tmp_path)
    (folder / "pkg").mkdir()
    (folder / "pkg" / "app.py").write_text("X = 1\n")
    names = [name for name, _ in build_inputs(folder)]
    assert names == sorted(names)
    assert {"app/app.py", "app/pkg/app.py", "app/plugin.toml"} <= set(names)


@pytest.mark.parametrize("reserved", ["enclava_sdk/__init__.py", "enclava_entry.py"])
def test_a_plugin_cannot_shadow_the_sdk(tmp_path: Path, reserved: str) -> None:
    folder = _copy_hello(tmp_path)
    (folder / reserved).parent.mkdir(exist_ok=True)
    (folder / reserved).write_text("")
    with pytest.raises(ConfigError, match="reserved"):
        build_inputs(folder)
