"""``enclava plugin new|build|test``: the plugin author's commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from argparse import ArgumentParser, ArgumentTypeError, Namespace, _SubParsersAction
from pathlib import Path

from builtin_plugins.wasm_plugins.build import BuildResult, build_plugin, sdk_root
from builtin_plugins.wasm_plugins.progress import Progress
from builtin_plugins.wasm_plugins.scaffold import scaffold
from builtin_plugins.wasm_plugins.toolchain import TOOLCHAIN_ENV
from builtin_plugins.wasm_plugins.user_cache import user_cache_dir
from kernel.errors import ConfigError
from kernel.types import CliCommand

__all__ = ["plugin_command"]

_FOLDER_HELP = "the plugin's folder (the one holding plugin.toml)"
_CACHE_HELP = (
    "cache folder for built components (default: $XDG_CACHE_HOME/enclava, else ~/.cache/enclava)"
)
_BUILD_EPILOG = (
    f"componentize-py comes from the dev extra; ${TOOLCHAIN_ENV} names another program. "
    "The same sources, SDK and componentize-py give the same cache entry wherever they are."
)


def _sha256(text: str) -> str:
    value = text.strip().lower().removeprefix("sha256:").removeprefix("sha256=")
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ArgumentTypeError(f"{text!r} is not a sha256 (64 hexadecimal digits)")
    return value


def _add_new(sub: _SubParsersAction[ArgumentParser]) -> None:
    text = "Create a plugin folder with a manifest, code and tests."
    new = sub.add_parser("new", help=text, description=text)
    new.add_argument(
        "name", help="plugin name: 2-40 of a-z 0-9 _, starting with a letter (also the folder)"
    )
    new.add_argument(
        "--dir",
        type=Path,
        default=Path("plugins"),
        metavar="DIR",
        help="folder to create the plugin in (default: plugins)",
    )


def _add_build_and_test(sub: _SubParsersAction[ArgumentParser]) -> None:
    build_text = "Build the plugin into a WebAssembly component (cached by source digest)."
    build = sub.add_parser("build", help=build_text, description=build_text, epilog=_BUILD_EPILOG)
    test_text = "Run the plugin's tests natively, then against the built component."
    test = sub.add_parser("test", help=test_text, description=test_text, epilog=_BUILD_EPILOG)
    for command in (build, test):
        command.add_argument("folder", type=Path, help=_FOLDER_HELP)
        command.add_argument("--cache", type=Path, metavar="DIR", help=_CACHE_HELP)
    build.add_argument(
        "--check",
        type=_sha256,
        metavar="SHA256",
        help="exit 0 if the built component's sha256 is SHA256, else print both and exit 1",
    )


def _configure(parser: ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="plugin_action", required=True, metavar="ACTION")
    _add_new(sub)
    _add_build_and_test(sub)


def _pytest(folder: Path, env: dict[str, str]) -> int:
    python_path = os.pathsep.join([str(folder.resolve()), str(sdk_root()), os.getcwd()])
    command = [sys.executable, "-m", "pytest", "-v", "--no-header", "-p", "no:cacheprovider"]
    sys.stdout.flush()
    return subprocess.run(  # noqa: S603
        [*command, "tests"],
        cwd=folder,
        env={**os.environ, **env, "PYTHONPATH": python_path},
        check=False,
    ).returncode


def _build(args: Namespace, cache: Path, progress: Progress) -> BuildResult | None:
    """Build, then load the component as the gateway would: its exports must match the manifest."""
    from builtin_plugins.wasm_plugins.component_runner import check_component  # loads wasmtime

    try:
        result = build_plugin(args.folder, cache / "wasm", phase=progress.phase)
        with progress.phase("checking the component against plugin.toml"):
            check_component(args.folder, cache / "native")
    except ConfigError as exc:
        print(f"enclava: {exc}", file=sys.stderr)
        return None
    print(f"{result.wasm} sha256={result.sha256}{' (cached)' if result.cached else ''}")
    return result


def _check(expected: str, result: BuildResult) -> int:
    if result.sha256 == expected:
        print(f"sha256 matches: {expected}")
        return 0
    print(
        f"enclava: sha256 differs\n  expected {expected}\n  built    {result.sha256}",
        file=sys.stderr,
    )
    return 1


def _build_or_test(args: Namespace) -> int:
    folder: Path = args.folder
    cache: Path = args.cache or user_cache_dir()
    progress = Progress()
    if args.plugin_action == "test":
        with progress.phase("native tests", spinner=False):
            if _pytest(folder, {}) != 0:
                return 1
    result = _build(args, cache, progress)
    if result is None:
        return 1
    if args.plugin_action == "build":
        return 0 if args.check is None else _check(args.check, result)
    from builtin_plugins.wasm_plugins.component_runner import CACHE_ENV, COMPONENT_ENV

    env = {COMPONENT_ENV: str(folder.resolve()), CACHE_ENV: str((cache / "native").resolve())}
    with progress.phase("component tests", spinner=False):
        return 0 if _pytest(folder, env) == 0 else 1


def _run(args: Namespace) -> int:
    if args.plugin_action == "new":
        folder = scaffold(args.name, args.dir)
        print(f"created {folder}: edit app.py, then `enclava plugin test {folder}`")
        return 0
    return _build_or_test(args)


def plugin_command() -> CliCommand:
    """The ``plugin`` command and its actions."""
    return CliCommand(
        name="plugin",
        help="Create, build and test sandboxed plugins.",
        configure=_configure,
        run=_run,
    )
