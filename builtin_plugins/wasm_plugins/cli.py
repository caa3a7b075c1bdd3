"""``enclava plugin new|build|test``: the plugin author's commands."""

from __future__ import annotations

import os
import subprocess
import sys
from argparse import ArgumentParser, Namespace
from pathlib import Path

from builtin_plugins.wasm_plugins.build import build_plugin, sdk_root
from builtin_plugins.wasm_plugins.component_runner import CACHE_ENV, COMPONENT_ENV
from builtin_plugins.wasm_plugins.scaffold import scaffold
from kernel.errors import ConfigError
from kernel.types import CliCommand

__all__ = ["plugin_command"]

DEFAULT_CACHE = Path(".cache/enclava")


def _configure(parser: ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="plugin_action", required=True, metavar="ACTION")
    new = sub.add_parser("new", help="Create a plugin folder with a manifest, code and tests.")
    new.add_argument("name")
    new.add_argument("--dir", type=Path, default=Path("plugins"), help="parent folder")
    for action, text in (
        ("build", "Build the plugin into a WebAssembly component (cached by source digest)."),
        ("test", "Run the plugin's tests natively, then against the built component."),
    ):
        command = sub.add_parser(action, help=text)
        command.add_argument("folder", type=Path)
        command.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="cache folder")


def _pytest(folder: Path, env: dict[str, str]) -> int:
    python_path = os.pathsep.join([str(folder.resolve()), str(sdk_root()), os.getcwd()])
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    return subprocess.run(  # noqa: S603
        command, cwd=folder, env={**os.environ, **env, "PYTHONPATH": python_path}, check=False
    ).returncode


def _run(args: Namespace) -> int:
    if args.plugin_action == "new":
        folder = scaffold(args.name, args.dir)
        print(f"created {folder}: edit app.py, then `enclava plugin test {folder}`")
        return 0
    folder: Path = args.folder
    if args.plugin_action == "test" and _pytest(folder, {}) != 0:
        return 1
    try:
        result = build_plugin(folder, args.cache / "wasm")
    except ConfigError as exc:
        print(f"enclava: {exc}", file=sys.stderr)
        return 1
    print(f"{result.wasm} sha256={result.sha256}{' (cached)' if result.cached else ''}")
    if args.plugin_action == "build":
        return 0
    native = str((args.cache / "native").resolve())
    env = {COMPONENT_ENV: str(folder.resolve()), CACHE_ENV: native}
    return 0 if _pytest(folder, env) == 0 else 1


def plugin_command() -> CliCommand:
    """The ``plugin`` command and its actions."""
    return CliCommand(
        name="plugin",
        help="Create, build and test sandboxed plugins.",
        configure=_configure,
        run=_run,
    )
