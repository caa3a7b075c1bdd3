"""``enclava plugin new|build|test``: the template's own tests pass natively and against the
built component; shipped plugins' tests do too (builds are cached by source digest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builtin_plugins.wasm_plugins.build import build_plugin, source_digest
from kernel.cli import main

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "enclava"


def test_new_scaffolds_a_plugin_whose_tests_pass_natively_and_in_the_sandbox(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugin", "new", "greeter", "--dir", str(tmp_path)]) == 0
    folder = tmp_path / "greeter"
    assert sorted(p.name for p in folder.iterdir()) == ["app.py", "plugin.toml", "tests"]
    assert main(["plugin", "test", str(folder), "--cache", str(CACHE)]) == 0
    out = capfd.readouterr().out
    assert out.count("1 passed") == 2  # natively, then against the component
    assert (folder / "plugin.wasm").is_file()


def test_new_refuses_bad_names_and_existing_folders(tmp_path: Path) -> None:
    assert main(["plugin", "new", "Bad-Name", "--dir", str(tmp_path)]) == 3
    assert main(["plugin", "new", "fine", "--dir", str(tmp_path)]) == 0
    assert main(["plugin", "new", "fine", "--dir", str(tmp_path)]) == 3


@pytest.mark.parametrize("name", ["hello", "pii_redactor"])
def test_shipped_plugins_pass_their_own_tests_in_the_sandbox(
    name: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / name
    shutil.copytree(REPO / "plugins" / name, folder, ignore=shutil.ignore_patterns("*.wasm"))
    assert main(["plugin", "test", str(folder), "--cache", str(CACHE)]) == 0
    assert "failed" not in capfd.readouterr().out


def test_build_is_cached_by_source_digest(tmp_path: Path) -> None:
    folder = tmp_path / "hello"
    shutil.copytree(REPO / "plugins" / "hello", folder, ignore=shutil.ignore_patterns("*.wasm"))
    first = build_plugin(folder, CACHE / "wasm")
    again = build_plugin(folder, CACHE / "wasm")
    assert again.cached
    assert again.sha256 == first.sha256
    before = source_digest(folder)
    (folder / "app.py").write_text((folder / "app.py").read_text() + "\n# changed\n")
    assert source_digest(folder) != before
