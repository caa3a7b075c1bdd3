"""Discovery of ``<directory>/<name>/plugin.toml``: manifests validated and components hashed
at boot, so a bad plugin fails the start with a clear message instead of a request later."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel.errors import ConfigError
from kernel.sandbox import Manifest, load_manifest
from kernel.sandbox.manifest import permissions_digest

if TYPE_CHECKING:
    from kernel.sandbox import SandboxedPlugin

__all__ = ["ARCHIVE_MARKER", "Installed", "check_description", "discover", "inspect_folder"]

ARCHIVE_MARKER = ".enclava-archive"
"""In a folder unpacked from an uploaded archive: that archive's sha256. Folders without it are
the operator's, which replicas never install or remove."""


@dataclass
class Installed:
    """One plugin found on disk and, once compiled, loaded into the sandbox."""

    manifest: Manifest
    folder: Path
    sha256: str | None
    """None while no component is built."""
    plugin: SandboxedPlugin | None = None
    error: str | None = None
    consecutive_traps: int = field(default=0)
    archive: str | None = None
    """The sha256 of the uploaded archive it was unpacked from; None for the operator's."""

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def digest(self) -> str | None:
        """What an admin approves (component hash + permissions); None while unbuilt."""
        return None if self.sha256 is None else permissions_digest(self.manifest, self.sha256)


def inspect_folder(folder: Path) -> Installed:
    """The plugin in ``folder``: manifest validated, component (if built) hashed and pinned."""
    manifest = load_manifest(folder / "plugin.toml")
    if manifest.name != folder.name:
        raise ConfigError(f"plugin folder '{folder.name}' holds plugin '{manifest.name}'")
    wasm = folder / manifest.wasm
    sha256 = hashlib.sha256(wasm.read_bytes()).hexdigest() if wasm.is_file() else None
    if manifest.sha256 is not None and sha256 is not None and sha256 != manifest.sha256:
        raise ConfigError(f"plugin '{manifest.name}': {manifest.wasm} does not match its sha256")
    marker = folder / ARCHIVE_MARKER
    archive = marker.read_text(encoding="ascii").strip() if marker.is_file() else None
    return Installed(manifest=manifest, folder=folder, sha256=sha256, archive=archive)


def discover(directory: Path, reserved: frozenset[str]) -> dict[str, Installed]:
    """Every plugin under ``directory`` by name; ConfigError for a bad manifest or a name that
    clashes with a registered (builtin or native) plugin."""
    found: dict[str, Installed] = {}
    if not directory.is_dir():
        return found
    # Dot folders are an upload's staging (or a replaced copy) left by an interrupted install.
    folders = (p for p in directory.iterdir() if not p.name.startswith("."))
    for folder in sorted(p for p in folders if (p / "plugin.toml").is_file()):
        installed = inspect_folder(folder)
        if installed.name in reserved:
            raise ConfigError(
                f"sandboxed plugin '{installed.name}' ({folder}) clashes with the name of a"
                " builtin or native (entry point) plugin"
            )
        found[installed.name] = installed
    return found


def _schedule_problems(manifest: Manifest, described: dict[str, Any]) -> list[str]:
    """Schedules must agree both ways: the host fires only what the manifest declares."""
    found = {s["name"]: s for s in described.get("schedules", [])}
    declared = {s.name: " ".join(s.cron.split()) for s in manifest.schedules}
    problems = [f"schedule {n!r} is not implemented" for n in sorted(set(declared) - set(found))]
    problems += [
        f"schedule {n!r} is not declared in plugin.toml" for n in sorted(set(found) - set(declared))
    ]
    problems += [
        f"schedule {n!r} runs at {found[n]['cron']!r} in the code, {cron!r} in plugin.toml"
        for n, cron in sorted(declared.items())
        if n in found and found[n]["cron"] != cron
    ]
    if not described.get("execute") and any(s["method"] is None for s in found.values()):
        problems.append("a schedule calls execute, which is not implemented")
    return problems


def _execute_problems(manifest: Manifest, described: dict[str, Any]) -> list[str]:
    implemented = bool(described.get("execute"))
    if manifest.execute and not implemented:
        return ["execute is declared but not implemented"]
    if implemented and not manifest.execute:
        return ["execute is implemented: declare execute = true in plugin.toml"]
    return []


def check_description(manifest: Manifest, description: str) -> None:
    """ConfigError unless the component implements what its manifest declares (same name,
    every endpoint, the filter stages, execute, the same schedules)."""
    try:
        described = json.loads(description)
        endpoints = {(e["method"], e["path"]) for e in described.get("endpoints", [])}
        stages = set(described.get("filters", []))
        name = described.get("name")
        actions = _execute_problems(manifest, described) + _schedule_problems(manifest, described)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ConfigError("describe() returned malformed JSON") from None
    problems = [] if name == manifest.name else [f"it calls itself {name!r}"]
    problems += actions
    problems += [
        f"{m} {p} is not implemented"
        for m, p in sorted({(e.method, e.path) for e in manifest.endpoints} - endpoints)
    ]
    spec = manifest.filter
    wanted = (
        set()
        if spec is None
        else {s for s, on in (("request", spec.request), ("response", spec.response)) if on}
    )
    problems += [f"no {stage} filter is implemented" for stage in sorted(wanted - stages)]
    if problems:
        raise ConfigError("the component does not match plugin.toml: " + "; ".join(problems))
