"""The README is the contract: its routes, settings, commands and demo blocks are all real.

Each test prints the precise list of README mentions that do not match the code.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.readme import (
    ENCLAVA_PROGRAM,
    README,
    Command,
    SettingRow,
    commands,
    default_literals,
    env_name,
    env_text,
    env_variables,
    fenced_blocks,
    labelled_settings,
    literal_matches,
    route_mentions,
    sections,
    serving_demo,
    settings_rows,
)

from builtin_plugins.api_keys.keys import PUBLIC_SCOPES
from kernel.cli import main
from kernel.errors import ConfigError
from kernel.plugins import PluginManager
from kernel.settings import PROCESS_VARIABLES, load_settings

TEXT = README.read_text(encoding="utf-8")
SURFACES = ("/api/v1", "/api-internal/v1")
UPSTREAM = ("/v1/", "/_sim/")  # the providers' own routes: checked against the simulators
PLUGIN_ROUTES = {  # shipped sandboxed plugins' endpoints, named relative to their plugin
    "/stats": "/api/v1/plugins/pii_redactor/stats",
    "/ticks": "/api/v1/plugins/hello/ticks",
}
PLACEHOLDER_ENV = {"ENCLAVA_KEY"}  # `bench/gateway.py --env ENCLAVA_KEY=VALUE`
PROVIDERS = ("privatemode", "redpill")  # `<provider>.x`, in the README's `a / b` order


def _report(problems: list[str]) -> None:
    assert not problems, "README.md does not match the code:\n  " + "\n  ".join(problems)


def _normal(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path).rstrip("/") or "/"


def _app_routes(make_settings: Callable[..., Any]) -> set[tuple[str, str]]:
    from kernel.app import create_app

    plugins = README.parent / "plugins"  # the shipped sandboxed plugins, wherever pytest runs
    app = create_app(make_settings(ENCLAVA_WASM_PLUGINS_DIRECTORY=str(plugins)))
    return {(m, _normal(r.path)) for r in app.routes for m in getattr(r, "methods", ())}


def _upstream_routes() -> set[tuple[str, str]]:
    from builtin_plugins.simulators.privatemode import create_privatemode_app
    from builtin_plugins.simulators.redpill import create_redpill_app

    apps = (create_privatemode_app(), create_redpill_app())
    routes = [r for a in apps for r in a.router.routes()]
    return {(r.method, _normal(r.resource.canonical)) for r in routes if r.resource}


def _candidates(path: str, surface: str) -> list[str]:
    """Where a mentioned path may live: as written, or under the surface it is relative to."""
    if path.startswith(UPSTREAM + SURFACES):
        return [path]
    return [path, *(f"{s}{path}" for s in ([surface] if surface else SURFACES))]


def test_every_route_mentioned_exists(make_settings: Callable[..., Any]) -> None:
    """A relative path (`/auth/refresh`) lives under the surface last named in its section."""
    ours, upstream = _app_routes(make_settings), _upstream_routes()
    problems, surface, section = [], "", ""
    for mention in route_mentions(TEXT):
        path = _normal(PLUGIN_ROUTES.get(mention.path, mention.path))
        surface = "" if mention.section != section else surface
        section = mention.section
        if path.startswith(SURFACES):
            surface = next(s for s in SURFACES if path.startswith(s))
        if path in SURFACES:
            continue
        table = upstream if path.startswith(UPSTREAM) else ours
        methods = ("GET", "POST") if mention.method == "ANY" else (mention.method,)
        if not any((m, c) in table for c in _candidates(path, surface) for m in methods):
            problems.append(f"[{section}] `{mention.raw}`: no {mention.method} {path}")
    _report(problems)


def _defaults() -> dict[str, Any]:
    schemas = PluginManager().settings_schemas()
    return load_settings(env={}, plugin_schemas=schemas).as_dict()


def _real(values: dict[str, Any], section: str, key: str) -> tuple[bool, Any]:
    scope = values if not section else values.get(section, {})
    return key in scope, scope.get(key)


def _row_problems(row: SettingRow, values: dict[str, Any]) -> list[str]:
    problems = []
    sections_ = list(PROVIDERS) if row.keys[0][0] == "<provider>" else [row.keys[0][0]]
    try:
        literals = default_literals(row.default, len(row.keys), len(sections_))
    except ValueError as exc:
        return [f"{exc}: {row.raw}"]
    for variant, section in enumerate(sections_):
        for (own, key), literal in zip(row.keys, literals[variant], strict=True):
            name = section if own == "<provider>" else own
            known, real = _real(values, name, key)
            if not known:
                problems.append(f"setting `{name}.{key}` does not exist: {row.raw}")
            elif literal is not None and not literal_matches(literal, real):
                problems.append(f"`{name}.{key}` default is {real!r}, README says `{literal}`")
    if row.envs and not any(e.endswith("…") for e in row.envs):
        head = env_name(row.keys[0][0], "")[:-1]
        envs = [e if e.startswith("ENCLAVA_") else head + e for e in row.envs]
        expected = [env_name(*k) for k in row.keys]
        if envs != expected:
            problems.append(f"env names {envs} should be {expected}")
    return problems


def test_every_setting_in_the_tables_exists_with_its_default() -> None:
    values = _defaults()
    _report([p for row in settings_rows(TEXT) for p in _row_problems(row, values)])


def test_every_setting_in_the_prose_exists_with_its_default() -> None:
    values, problems = _defaults(), []
    for section, key in set(re.findall(r"`([a-z_]+)\.([a-z_]+)`", TEXT)):
        scope = f"{section}.{key}" in PUBLIC_SCOPES  # an API key scope, not a setting
        if isinstance(values.get(section), dict) and key not in values[section] and not scope:
            problems.append(f"`{section}.{key}` is not a setting")
    for section, key, literal in labelled_settings(TEXT):
        known, real = _real(values, section, key)
        if not known:
            problems.append(f"`{key}` (`{section}`) is not a setting")
        elif literal is not None and not literal_matches(literal, real):
            problems.append(f"`{section}.{key}` default is {real!r}, README says {literal}")
    _report(sorted(problems))


def _env_names(values: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """``ENCLAVA_*`` name -> (section, key) of every setting."""
    names = {env_name("", k): ("", k) for k, v in values.items() if not isinstance(v, dict)}
    for section, keys in values.items():
        if isinstance(keys, dict):
            names.update({env_name(section, k): (section, k) for k in keys})
    return names


def _env_problem(name: str, target: tuple[str, str] | None, values: dict[str, Any]) -> str | None:
    """Why ``load_settings`` rejects ``name`` set to its setting's default, or None."""
    value = "1" if target is None else _real(values, *target)[1]
    schemas = PluginManager().settings_schemas()
    try:
        loaded = load_settings(env={name: env_text(value)}, plugin_schemas=schemas).as_dict()
    except ConfigError as exc:
        return f"{name}: {exc}"
    if target is None or _real(loaded, *target)[1] != value:
        return f"{name} is accepted but does not set the setting it names"
    return None


def test_every_enclava_variable_is_accepted() -> None:
    """Unknown ``ENCLAVA_*`` variables stop the boot, so each named one must load."""
    values = _defaults()
    known, rows = _env_names(values), settings_rows(TEXT)
    names = env_variables(TEXT) - PLACEHOLDER_ENV - PROCESS_VARIABLES
    names |= {env_name(*key) for row in rows if row.envs for key in row.keys}
    problems = [_env_problem(name, known.get(name), values) for name in sorted(names)]
    _report([p for p in problems if p])


def _help(words: tuple[str, ...]) -> tuple[int | str | None, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code: int | str | None = main([*words, "--help"])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue()


def _offered(option: str, help_text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


def _readme_commands() -> dict[tuple[str, ...], list[Command]]:
    found: dict[tuple[str, ...], list[Command]] = {}
    for command in commands(TEXT):
        found.setdefault(command.words, []).append(command)
    return found


def test_every_command_and_option_exists() -> None:
    """``enclava WORDS --help`` exits 0 and offers every ``--option`` the README writes."""
    problems = []
    for words, mentions in _readme_commands().items():
        code, text = _help(words)
        label = " ".join(("enclava", *words))
        if code != 0:
            problems.append(f"`{label} --help` exits {code}: {text.strip()[-200:]}")
            continue
        for option in sorted({o for c in mentions for o in c.options}):
            if not _offered(option, text):
                raw = next(c.raw for c in mentions if option in c.options)
                problems.append(f"`{label}` has no {option} (README: `{raw}`)")
    _report(problems)


def test_every_command_takes_config_and_verbose() -> None:
    """README, Command line: "Every command takes `--config FILE` and `--verbose`"."""
    problems = []
    for words in _readme_commands():
        text = _help(words)[1]
        missing = [o for o in ("--config", "--verbose") if words and not _offered(o, text)]
        if missing:
            problems.append(f"`enclava {' '.join(words)}` lacks {', '.join(missing)}")
    _report(problems)


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with serving_demo(tmp_path) as running:
        yield running


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run from the repository root, as the README's "Try it" paragraph says."""
    return subprocess.run(
        argv, cwd=README.parent, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _section(heading: str) -> str:
    return next(body for title, body in sections(TEXT).items() if title.startswith(heading))


def _localised(block: str, port: int) -> str:
    return block.replace(".venv/bin/enclava", str(ENCLAVA_PROGRAM)).replace(
        "127.0.0.1:8000", f"127.0.0.1:{port}"
    )


def _exports(bash: str, env: dict[str, str]) -> dict[str, str]:
    """Run the bash block as a script; the environment it exports for the next block."""
    script = f'{bash}\nprintf \'%s\\0%s\' "$OPENAI_API_KEY" "$OPENAI_BASE_URL"\n'
    done = _run(["bash", "-euo", "pipefail", "-c", script], env)
    assert done.returncode == 0, done.stderr
    key, base = done.stdout.rsplit("\n", 1)[-1].split("\0")
    return {**env, "OPENAI_API_KEY": key, "OPENAI_BASE_URL": base}


def _python_until_attested(code: str, env: dict[str, str]) -> str:
    """Run ``code``, retrying while RedPill answers 503 "attestation pending" (as a user would)."""
    deadline = time.monotonic() + 20
    while True:
        done = _run([sys.executable, "-c", code], env)
        if done.returncode == 0 or time.monotonic() > deadline or "503" not in done.stderr:
            assert done.returncode == 0, done.stderr
            return done.stdout
        time.sleep(0.5)


@pytest.mark.slow
def test_try_it_without_providers_runs_as_written(demo_server: tuple[int, dict[str, str]]) -> None:
    """The bash then python blocks against ``serve --demo``; prints equal their ``# comment``."""
    port, env = demo_server
    section = _section("Try it without providers")
    bash = next(b for b in fenced_blocks(section, "bash") if "keys create" in b)
    env = _exports(_localised(bash, port), env)
    code = fenced_blocks(section, "python")[0]
    printed = _python_until_attested(code, env).splitlines()
    prints = [line for line in code.splitlines() if line.startswith("print(")]
    assert len(printed) == len(prints), printed
    problems = [
        f"`{line}` printed {out!r}"
        for line, out in zip(prints, printed, strict=True)
        if " # " in line and out != line.split(" # ", 1)[1].strip()
    ]
    _report(problems)
    gateway = _section("Using the gateway")
    sdk = _localised(fenced_blocks(gateway, "python")[0], port)
    _python_until_attested(sdk.replace('"en_..."', repr(env["OPENAI_API_KEY"])), env)
