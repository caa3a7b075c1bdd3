"""``plugin.toml``: what a sandboxed plugin is, contributes, may touch and may consume.

The kernel grants exactly what a validated manifest asks for and an admin approved; anything
unknown in the file fails validation, so a typo never silently widens or narrows a grant.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec
from cronsim import CronSim, CronSimError

from kernel.errors import ConfigError

__all__ = [
    "ABI_VERSION",
    "ConfigOption",
    "EndpointSpec",
    "FilterSpec",
    "Limits",
    "Manifest",
    "Permissions",
    "ScheduleSpec",
    "cron_problem",
    "load_manifest",
    "parse_manifest",
    "permissions_digest",
]

ABI_VERSION = "0.1.0"
"""The version of ``sdk/wit/enclava-plugin.wit`` this host implements."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_PATH = re.compile(r"^/[A-Za-z0-9._~/-]{0,200}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SCHEDULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class EndpointSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One HTTP endpoint, mounted at ``/api/v1/plugins/<name><path>`` (and the internal twin)."""

    method: Method
    path: str
    summary: str = ""


class FilterSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A chat filter: which directions it rewrites and where it runs among the others."""

    order: int = 500
    request: bool = True
    response: bool = False


class ScheduleSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A cron schedule: ``name`` is a method decorated ``@schedule(cron)``, or a class attribute
    ``name = schedule(cron)`` that calls ``execute``."""

    name: str
    cron: str
    """Five fields (minute hour day-of-month month day-of-week), UTC."""


class Permissions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Capabilities beyond pure computation; everything absent is denied."""

    kv: bool = False
    http: tuple[str, ...] = ()
    """Hosts (``name`` or ``name:port``) ``http-fetch`` may reach, over HTTPS or HTTP."""
    llm: tuple[str, ...] = ()
    """Models ``llm-chat`` may call through the gateway (``"*"``: any), on the plugin's budget."""


class Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Resource limits per call and per plugin."""

    memory_mb: int = 64
    """Cap on an instance's memory: its one linear memory and its tables together."""
    timeout_ms: int = 2000
    """Deadline of a call from when it gets a thread: guest code, sleeps and host calls."""
    instances: int = 2
    """The plugin's own call threads and warm instances (as many again for its chat filter);
    a call waits at most ``timeout_ms`` for one."""
    max_request_bytes: int = 1_048_576
    max_response_bytes: int = 1_048_576
    http_timeout_ms: int = 5000
    """Per ``http-fetch``, never beyond what is left of ``timeout_ms``."""
    http_max_bytes: int = 1_048_576
    llm_timeout_ms: int = 60_000
    """Per ``llm-chat``, never beyond what is left of ``timeout_ms``."""
    log_lines: int = 200


class ConfigOption(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One admin-settable configuration value the plugin reads with ``config-get``."""

    type: Literal["string", "integer", "number", "boolean"]
    default: Any = None
    description: str = ""


class Manifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A validated ``plugin.toml``."""

    name: str
    version: str
    abi: str
    description: str = ""
    wasm: str = "plugin.wasm"
    """The component file, relative to the plugin folder."""
    sha256: str | None = None
    """When set, the component must hash to exactly this value."""
    entry: str = "app"
    """The Python module ``enclava plugin build`` componentizes."""
    endpoints: tuple[EndpointSpec, ...] = ()
    execute: bool = False
    """The plugin implements ``execute``: served as ``POST /api/v1/plugins/<name>``."""
    schedules: tuple[ScheduleSpec, ...] = ()
    filter: FilterSpec | None = None
    permissions: Permissions = Permissions()
    config: dict[str, ConfigOption] = {}
    limits: Limits = Limits()


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a 5-field cron expression that ever fires, or None."""
    if len(expression.split()) != 5:
        return "a cron expression has 5 fields: minute hour day-of-month month day-of-week"
    try:
        next(CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        return str(exc)
    except StopIteration:
        return "it never fires"
    return None


def _schedule_problems(manifest: Manifest) -> list[str]:
    names = [s.name for s in manifest.schedules]
    problems = [f"bad schedule name {n!r}" for n in names if not _SCHEDULE_NAME.match(n)]
    if len(set(names)) != len(names):
        problems.append("schedules are declared twice")
    for spec in manifest.schedules:
        problem = cron_problem(spec.cron)
        if problem is not None:
            problems.append(f"schedule {spec.name!r}: bad cron {spec.cron!r} ({problem})")
    if manifest.execute and any(e.method == "POST" and e.path == "/" for e in manifest.endpoints):
        problems.append("execute is served as POST /; no endpoint may declare it")
    return problems


def _check(manifest: Manifest, source: str) -> None:
    problems: list[str] = []
    if not _NAME.match(manifest.name):
        problems.append("name must match [a-z][a-z0-9_]{1,39}")
    if manifest.abi != ABI_VERSION:
        problems.append(f"abi {manifest.abi!r} is not supported (this host: {ABI_VERSION})")
    if manifest.sha256 is not None and not _SHA256.match(manifest.sha256):
        problems.append("sha256 must be 64 lowercase hex digits")
    if "/" in manifest.wasm or manifest.wasm.startswith("."):
        problems.append("wasm must be a file name inside the plugin folder")
    routes = [(e.method, e.path) for e in manifest.endpoints]
    problems += [f"bad endpoint path {p!r}" for _, p in routes if not _PATH.match(p) or ".." in p]
    if len(set(routes)) != len(routes):
        problems.append("endpoints are declared twice")
    problems += [f"bad http host {h!r}" for h in manifest.permissions.http if not _HOST.match(h)]
    problems += _schedule_problems(manifest)
    limits = manifest.limits
    if not 16 <= limits.memory_mb <= 1024:
        problems.append("limits.memory_mb must be within 16..1024")
    if not 1 <= limits.instances <= 32:
        problems.append("limits.instances must be within 1..32")
    if not 1 <= limits.timeout_ms <= 60_000 or not 1 <= limits.http_timeout_ms <= 60_000:
        problems.append("timeouts must be within 1..60000 ms")
    if problems:
        raise ConfigError(f"invalid plugin manifest {source}: " + "; ".join(problems))


def parse_manifest(text: str, source: str) -> Manifest:
    """Parse and validate TOML ``text``; ConfigError names ``source`` and every problem."""
    try:
        manifest = msgspec.convert(tomllib.loads(text), Manifest)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"invalid plugin manifest {source}: {exc}") from None
    _check(manifest, source)
    return manifest


def load_manifest(path: Path) -> Manifest:
    """Parse and validate ``path`` (a ``plugin.toml``); ConfigError names every problem."""
    source = f"{path.parent.name}/{path.name}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"invalid plugin manifest {source}: {exc}") from None
    return parse_manifest(text, source)


class _Approved(msgspec.Struct, frozen=True, omit_defaults=True):
    # A plugin without execute or schedules keeps the digest it had before they existed.
    sha256: str
    permissions: Permissions
    execute: bool = False
    schedules: tuple[ScheduleSpec, ...] = ()


def permissions_digest(manifest: Manifest, sha256: str) -> str:
    """What an admin approves, as one digest: the component's hash, its permissions, whether
    callers may run its default action (``execute``) and when it acts on its own (schedules)."""
    approved = _Approved(sha256, manifest.permissions, manifest.execute, manifest.schedules)
    return hashlib.sha256(msgspec.json.encode(approved)).hexdigest()
