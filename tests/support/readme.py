"""Read README.md as data (sections, code blocks, routes, settings, commands); run its demo.

``tests/test_readme.py`` checks what is found against the real app, settings and CLI.
Everything is found by its shape, so the checks follow README edits.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from support.process import terminate

__all__ = [
    "ENCLAVA_PROGRAM",
    "README",
    "Command",
    "RouteMention",
    "SettingRow",
    "code_spans",
    "commands",
    "default_literals",
    "env_name",
    "env_text",
    "env_variables",
    "fenced_blocks",
    "labelled_settings",
    "literal_matches",
    "route_mentions",
    "sections",
    "serving_demo",
    "settings_rows",
]

README = Path(__file__).resolve().parents[2] / "README.md"
ENCLAVA_PROGRAM = Path(sys.executable).with_name("enclava")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"`([^`]+)`")
_METHODS = r"(?:GET|POST|PUT|PATCH|DELETE)"
_ROUTE = re.compile(rf"^(?:({_METHODS}(?:\|{_METHODS})*) )?(/\S*)")
_ENV = re.compile(r"ENCLAVA_[A-Z0-9_]*")
_WORD = re.compile(r"[a-z][a-z0-9_-]*(?:\|[a-z][a-z0-9_-]*)*")
_OPTION = re.compile(r"--[a-z][a-z0-9-]*")
_LITERAL = re.compile(r"^(?:`[^`]*`\s*)+(?:s)?$")  # code spans, maybe a unit: `30` s
_LABELLED = re.compile(r"^- \*\*[^*]+\*\* \(`(\w+)`\):(.*?)(?=^- |^$)", re.MULTILINE | re.DOTALL)


def sections(text: str) -> dict[str, str]:
    """``## Heading`` -> its body (the preamble is under "")."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {"": parts[0], **dict(zip(parts[1::2], parts[2::2], strict=True))}


def fenced_blocks(text: str, language: str | None = None) -> list[str]:
    """Bodies of the ```` ``` ```` blocks of ``text`` (only ``language`` ones when given)."""
    return [body for lang, body in _FENCE.findall(text) if language in (None, lang)]


def code_spans(text: str) -> list[str]:
    """Inline code outside fenced blocks, whitespace collapsed (a span may wrap lines)."""
    prose = _FENCE.sub("", text)
    return [" ".join(span.split()) for span in _SPAN.findall(prose)]


@dataclass(frozen=True)
class RouteMention:
    section: str
    method: str  # "ANY" for a bare path
    path: str  # query dropped, one alternative per mention
    raw: str


def _alternatives(path: str) -> list[str]:
    segments = [segment.split("|") for segment in path.split("/")]
    return ["/".join(choice) for choice in itertools.product(*segments)]


def route_mentions(text: str) -> list[RouteMention]:
    """`` `METHOD|METHOD /path/a|b?query` `` and bare `` `/path` `` spans, in README order."""
    found: list[RouteMention] = []
    for title, body in sections(text).items():
        for span in code_spans(body):
            match = _ROUTE.match(span)
            if match is None or any(mark in span for mark in "<…*"):
                continue
            methods, path = match.group(1) or "ANY", match.group(2).split("?")[0]
            for method, alternative in itertools.product(methods.split("|"), _alternatives(path)):
                found.append(RouteMention(title, method, alternative.rstrip("/"), span))
    return found


@dataclass(frozen=True)
class SettingRow:
    """One settings-table row: ``(section or "", key)`` pairs, its env names, its default cell."""

    keys: tuple[tuple[str, str], ...]
    envs: tuple[str, ...]
    default: str
    raw: str


def _row_keys(cell: str) -> tuple[tuple[str, str], ...]:
    keys: list[tuple[str, str]] = []
    for name in _SPAN.findall(cell):
        section, _, key = name.rpartition(".")
        keys.append((section if "." in name else (keys[-1][0] if keys else ""), key))
    return tuple(keys)


def settings_rows(text: str) -> list[SettingRow]:
    """Rows of every ``| setting | env | default | meaning |`` table."""
    rows: list[SettingRow] = []
    for table in re.findall(r"^\| setting \|.*\n\|[-| ]+\|\n((?:\|.*\n)+)", text, re.MULTILINE):
        for line in table.splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            envs = tuple(_SPAN.findall(cells[1]))
            rows.append(SettingRow(_row_keys(cells[0]), envs, cells[2], line))
    return rows


def env_name(section: str, key: str) -> str:
    """The ``ENCLAVA_*`` variable of a setting (``section`` "" for top-level keys)."""
    return f"ENCLAVA_{section}_{key}".upper() if section else f"ENCLAVA_{key}".upper()


def default_literals(cell: str, width: int, variants: int) -> list[list[str | None]]:
    """The default cell's literal per key (None: prose), one list per section variant.

    ``a / b`` gives one value per key; for ``<provider>`` rows, ``a1 a2 / b1 b2`` gives one
    part per provider. ValueError when literals cannot be matched to the row's keys.
    """
    parts = [part.strip() for part in cell.split(" / ")]
    found = [re.findall(r"`([^`]*)`", p) if _LITERAL.match(p) else None for p in parts]
    per_variant = all(f is not None and len(f) == width for f in found)
    if variants > 1 and width > 1 and len(parts) == variants and per_variant:
        return [list(f or []) for f in found]
    if len(parts) == width:
        return [[f[0] if f is not None and len(f) == 1 else None for f in found]] * variants
    if any(found):
        raise ValueError(f"cannot match the defaults {cell!r} to {width} settings")
    return [[None] * width] * variants


def labelled_settings(text: str) -> list[tuple[str, str, str | None]]:
    """``(section, key, default)`` of ``- **Name** (`section`): ... Settings: `a`, `b`.`` and
    ``Defaults: `a` 1, `b` `{...}`;`` bullets."""
    found: list[tuple[str, str, str | None]] = []
    for section, body in _LABELLED.findall(text):
        prose = " ".join(body.split())
        for names in re.findall(r"Settings: (.*?)\.(?: |$)", prose):
            found += [(section, key, None) for key in re.findall(r"`(\w+)`", names)]
        for pairs in re.findall(r"Defaults: (.*?)[;.]", prose):
            for key, code, number in re.findall(r"`(\w+)` (?:`([^`]+)`|([\d.]+))", pairs):
                found.append((section, key, code or number))
    return found


def literal_matches(literal: str, real: Any) -> bool:
    """Whether a README default literal (`30`, `true`, `[]`, `HS256`) equals a real value."""
    if isinstance(real, bool):
        return literal == str(real).lower()
    with contextlib.suppress(ValueError):
        if isinstance(real, int | float):
            return float(literal) == real
        if isinstance(real, list | dict):
            return bool(json.loads(literal) == real)
    return literal == str(real)


def env_text(value: Any) -> str:
    """``value`` as an ``ENCLAVA_*`` variable would spell it."""
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def env_variables(text: str) -> set[str]:
    """Every ``ENCLAVA_*`` name; families (``ENCLAVA_AUTH_…``, ``ENCLAVA_<KEY>``) left out."""
    return {name for name in _ENV.findall(text) if not name.endswith("_")}


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]  # subcommand words, alternatives expanded
    options: frozenset[str]
    raw: str


def _command(raw: str) -> list[Command]:
    tokens = raw.split(" #")[0].split()
    starts = [i for i, token in enumerate(tokens) if re.search(r"(?:^|\(|/bin/)enclava$", token)]
    if not starts:
        return []
    words: list[str] = []
    options: set[str] = set()
    for token in tokens[starts[0] + 1 :]:
        if token in {"|", ";", "&&"}:
            break
        if _WORD.fullmatch(token) and not options:
            words.append(token)
        else:
            options.update(_OPTION.findall(token))
            if not token.startswith("--") and not token.startswith("["):
                words.append("")  # a placeholder ends the subcommand words
        if token.endswith(")"):
            break
    words = words[: words.index("")] if "" in words else words
    expanded = itertools.product(*(word.split("|") for word in words))
    return [Command(tuple(choice), frozenset(options), raw) for choice in expanded]


def _introduced(span: str, introduced: set[tuple[str, ...]]) -> bool:
    """Whether ``span`` starts like an explicit command (its first two words, or its one
    subcommand word before the options): prose such as `attestation not valid` does not."""
    words = span.split()
    head = tuple(words[:1]) if len(words) < 2 or words[1].startswith("-") else tuple(words[:2])
    return head in introduced


def commands(text: str) -> list[Command]:
    """``enclava ...`` lines of code blocks and inline code, one per expanded alternative.

    Inline code naming a subcommand without the program (`` `plugin build --check SHA256` ``)
    counts too, once some explicit ``enclava`` line introduced that subcommand.
    """
    spans = code_spans(text)
    lines = [line for block in fenced_blocks(text) for line in block.splitlines()]
    explicit = [command for raw in [*lines, *spans] for command in _command(raw)]
    introduced = {command.words[:2] for command in explicit if command.words}
    bare = [s for s in spans if " " in s and _introduced(s, introduced) and not _command(s)]
    return [*explicit, *(command for span in bare for command in _command(f"enclava {span}"))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(port: int, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 30  # generous: a bound for CI, not a performance target
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def serving_demo(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``enclava serve --demo`` on a free port; yields the port and the environment it runs in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    env["ENCLAVA_DATA_DIR"] = str(tmp_path / "data")
    port, log = _free_port(), tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ENCLAVA_PROGRAM), "serve", "--demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert _ready(port, proc), log.read_text()
        yield port, env
    finally:
        terminate(proc)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
