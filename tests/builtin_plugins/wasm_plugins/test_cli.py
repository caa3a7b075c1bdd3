"""``enclava plugin new|build|test`` as a user runs them: every argument explained, ``--check``
against a published hash, phases on stderr, readable test output, and a one-line answer when
componentize-py is not installed."""

from __future__ import annotations

import re
import shutil
from argparse import ArgumentParser, _SubParsersAction
from pathlib import Path

import pytest

from builtin_plugins.wasm_plugins.cli import plugin_command
from builtin_plugins.wasm_plugins.toolchain import TOOLCHAIN_ENV
from kernel.cli import main

REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / ".cache" / "enclava"


def _hello(tmp_path: Path) -> Path:
    folder = tmp_path / "hello"
    shutil.copytree(REPO / "plugins" / "hello", folder, ignore=shutil.ignore_patterns("*.wasm"))
    return folder


def _build(folder: Path, *extra: str) -> int:
    return main(["plugin", "build", str(folder), "--cache", str(CACHE), *extra])


def test_every_argument_of_new_build_and_test_has_help() -> None:
    parser = ArgumentParser()
    plugin_command().configure(parser)
    actions = next(a for a in parser._actions if isinstance(a, _SubParsersAction))
    for name in ("new", "build", "test"):
        command = actions.choices[name]
        arguments = [a for a in command._actions if a.dest != "help"]
        assert arguments, name
        for argument in arguments:
            assert argument.help, f"plugin {name} {argument.dest}"


def test_check_passes_on_the_built_hash_and_fails_with_both_on_another(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = _hello(tmp_path)
    assert _build(folder) == 0
    out, err = capfd.readouterr()
    built = re.search(r"sha256=([0-9a-f]{64})", out)
    assert built is not None
    for phase in ("checking manifest", "finding componentize-py", "hashing sources"):
        assert f"] {phase}\n" in err

    assert _build(folder, "--check", built[1].upper()) == 0
    assert f"sha256 matches: {built[1]}" in capfd.readouterr().out

    assert _build(folder, "--check", "0" * 64) == 1
    err = capfd.readouterr().err
    assert f"expected {'0' * 64}" in err
    assert f"built    {built[1]}" in err


def test_check_refuses_what_is_not_a_sha256(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _build(_hello(tmp_path), "--check", "abc")
    assert exited.value.code == 2
    assert "not a sha256" in capfd.readouterr().err


def test_without_componentize_py_build_says_what_to_install_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOOLCHAIN_ENV, str(tmp_path / "missing" / "componentize-py"))
    assert _build(_hello(tmp_path)) == 1
    err = capfd.readouterr().err
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("enclava: componentize-py is not installed at ")
    assert "-m pip install 'componentize-py" in last


def test_plugin_test_names_each_test_and_shows_its_phases(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugin", "test", str(_hello(tmp_path)), "--cache", str(CACHE)]) == 0
    out, err = capfd.readouterr()
    assert out.count("tests/test_app.py::test_hello_greets_by_name PASSED") == 2
    assert "] native tests\n" in err
    assert "] component tests\n" in err


def test_build_and_test_refuse_a_component_that_does_not_match_its_manifest(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = _hello(tmp_path)
    manifest = folder / "plugin.toml"
    manifest.write_text(manifest.read_text() + '\n[[endpoints]]\nmethod = "POST"\npath = "/x"\n')
    assert _build(folder) == 1
    err = capfd.readouterr().err
    assert "] checking the component against plugin.toml\n" in err
    last = err.splitlines()[-1]
    assert last == "enclava: the component does not match plugin.toml: POST /x is not implemented"
    assert main(["plugin", "test", str(folder), "--cache", str(CACHE)]) == 1
    err = capfd.readouterr().err
    assert "POST /x is not implemented" in err
    assert "component tests" not in err
