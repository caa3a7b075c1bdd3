"""Typed settings: ``config/default.toml``, then an optional ``--config FILE``, then ``ENCLAVA_*``.

Kernel sections are fixed here; each plugin adds its own section through
``enclava_settings_schema``. Unknown keys, unknown ``ENCLAVA_*`` variables and bad values raise
:class:`~kernel.errors.ConfigError` at boot with the offending key named.

Environment names are ``ENCLAVA_<KEY>`` for top-level keys (``ENCLAVA_DATA_DIR``) and
``ENCLAVA_<SECTION>_<KEY>`` for sections (``ENCLAVA_DATABASE_URL``, ``ENCLAVA_REDIS_URL``).
List values are JSON arrays or comma-separated strings.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from kernel.errors import ConfigError

__all__ = [
    "CONFIG_FILE_ENV",
    "ENV_PREFIX",
    "PROCESS_VARIABLES",
    "DatabaseSettings",
    "FilesSettings",
    "KernelSettings",
    "PluginsSettings",
    "QdrantSettings",
    "RedisSettings",
    "ServerSettings",
    "Settings",
    "apply_overrides",
    "configured_values",
    "default_config_path",
    "load_settings",
    "mask_secrets",
    "masked_settings",
]

S = TypeVar("S", bound=msgspec.Struct)
ENV_PREFIX = "ENCLAVA_"
CONFIG_FILE_ENV = "ENCLAVA_CONFIG_FILE"
PROCESS_VARIABLES = frozenset(
    {CONFIG_FILE_ENV, "ENCLAVA_TRACE_PLUGINS", "ENCLAVA_URL", "ENCLAVA_API_KEY"}
)
"""``ENCLAVA_*`` variables that are not settings: the config file path, hook-call tracing
(:mod:`kernel.plugins`), and where client commands (``enclava rag``) reach a running server."""
"""Path of the config file (the same as ``--config``); not a setting itself."""


_INFO_LEVELS = frozenset({"info", "debug"})


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 10 * 1024 * 1024
    log_level: str = "info"
    log_format: str = "text"
    """``text`` (``LEVEL logger: message``) or ``json``: one JSON object per line
    (:mod:`kernel.logs`)."""
    access_log: bool = True
    """One ``enclava.access`` line (INFO) per request as it completes: method, route template,
    status, duration, principal kind and id, request id (:mod:`kernel.access_log`), while
    ``log_level`` is ``info`` or ``debug``; replaces uvicorn's access log, which is always off."""
    shutdown_grace_seconds: int = 10
    """How long a stop (SIGTERM) waits for requests in flight before cutting them."""
    forwarded_allow_ips: str = ""
    """Proxies whose ``X-Forwarded-For`` is believed (comma-separated IPs/CIDRs, ``*`` for any);
    empty: none, the client IP is the TCP peer — so a local process cannot pose as another IP."""

    @property
    def logs_access(self) -> bool:
        """Whether requests get access lines: ``access_log`` on, ``log_level`` info or debug."""
        return self.access_log and self.log_level in _INFO_LEVELS

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if not 0 < self.shutdown_grace_seconds <= 600:
            raise ValueError("shutdown_grace_seconds must be between 0 and 600")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")
        if self.log_level not in {"critical", "error", "warning", "info", "debug"}:
            raise ValueError("log_level must be one of critical, error, warning, info, debug")
        if self.log_format not in {"text", "json"}:
            raise ValueError("log_format must be text or json")


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: str = ""
    pool_size: int = 10
    echo: bool = False


class RedisSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: str = ""
    prefix: str = "enclava:"
    cluster: bool = False
    """Redis Cluster: ``url`` names one node, the client discovers the rest (same as a
    ``redis+cluster://`` or ``rediss+cluster://`` URL)."""

    def __post_init__(self) -> None:
        if "{" in self.prefix or "}" in self.prefix:
            # Braces would make the prefix the hash tag of every key: one cluster slot for all.
            raise ValueError("prefix must not contain braces")
        scheme = self.url.partition("://")[0].lower() if "://" in self.url else ""
        if self.cluster and not self.url:
            raise ValueError("cluster needs url (one node of the cluster)")
        if self.cluster and scheme == "unix":
            raise ValueError("cluster needs a redis:// or rediss:// url, not a unix socket")


class QdrantSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: str = ""
    api_key: str = ""
    # Without url: "edge" (qdrant-edge-py) or "local" (qdrant-client's local mode).
    embedded_engine: Literal["edge", "local"] = "edge"


class FilesSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    key: str = ""


class PluginsSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    disabled: list[str] = []
    resync_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.resync_seconds <= 0:
            raise ValueError("resync_seconds must be positive")


class KernelSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    data_dir: str = "./data"
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    qdrant: QdrantSettings = QdrantSettings()
    files: FilesSettings = FilesSettings()
    plugins: PluginsSettings = PluginsSettings()


class Settings(msgspec.Struct, frozen=True):
    """Effective settings: the kernel's, plus one validated section per plugin schema."""

    kernel: KernelSettings
    sections: dict[str, msgspec.Struct] = {}
    source: str = "defaults"

    @property
    def data_dir(self) -> Path:
        return Path(self.kernel.data_dir).expanduser().resolve()

    def section(self, name: str, schema: type[S]) -> S:
        """A plugin's section, typed; ConfigError if the plugin did not declare it."""
        value = self.sections.get(name)
        if not isinstance(value, schema):
            raise ConfigError(f"settings section [{name}] is not declared by any plugin")
        return value

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain data (kernel keys at top level, then plugin sections)."""
        data: dict[str, Any] = msgspec.to_builtins(self.kernel)
        for name, value in self.sections.items():
            data[name] = msgspec.to_builtins(value)
        return data


def default_config_path() -> Path:
    """``config/default.toml`` in a source checkout, or its copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "config" / "default.toml", here / "_config" / "default.toml"):
        if candidate.is_file():
            return candidate
    raise ConfigError("config/default.toml not found next to the kernel package")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _schemas(plugin_schemas: Mapping[str, type[msgspec.Struct]]) -> dict[str, type[Any]]:
    kernel_sections = {
        f.name: f.type for f in msgspec.structs.fields(KernelSettings) if f.name != "data_dir"
    }
    clash = {f.name for f in msgspec.structs.fields(KernelSettings)} & set(plugin_schemas)
    if clash:
        raise ConfigError(f"plugin settings sections clash with kernel sections: {sorted(clash)}")
    return {**kernel_sections, **plugin_schemas}


def _env_value(raw: str) -> Any:
    stripped = raw.strip()
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return raw
    return raw


def _env_overrides(env: Mapping[str, str], schemas: Mapping[str, type[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_length = sorted(schemas, key=len, reverse=True)
    for var, raw in env.items():
        if not var.startswith(ENV_PREFIX) or var in PROCESS_VARIABLES:
            continue
        name = var[len(ENV_PREFIX) :].lower()
        if name == "data_dir":
            out["data_dir"] = raw
            continue
        section = next((s for s in by_length if name.startswith(f"{s}_")), None)
        if section is None:
            raise ConfigError(f"unknown environment variable {var}")
        key = name[len(section) + 1 :]
        fields = {f.name: f.type for f in msgspec.structs.fields(schemas[section])}
        if key not in fields:
            raise ConfigError(f"unknown environment variable {var}")
        value = _env_value(raw)
        if isinstance(value, str) and "list" in str(fields[key]):
            value = [item.strip() for item in value.split(",") if item.strip()]
        out.setdefault(section, {})[key] = value
    return out


def _convert(name: str, schema: type[S], data: Any) -> S:
    try:
        return msgspec.convert(data, schema, strict=False)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        where = f"[{name}]" if name else "top level"
        raise ConfigError(f"invalid settings at {where}: {exc}") from None


def load_settings(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    plugin_schemas: Mapping[str, type[msgspec.Struct]] | None = None,
) -> Settings:
    """Merge defaults, ``config_file`` and ``ENCLAVA_*`` variables and validate every section."""
    schemas = _schemas(plugin_schemas or {})
    data = _read_toml(default_config_path())
    source = "defaults"
    if config_file is not None:
        data = _merge(data, _read_toml(config_file))
        source = str(config_file)
    data = _merge(data, _env_overrides(os.environ if env is None else env, schemas))
    unknown = set(data) - set(schemas) - {"data_dir"}
    if unknown:
        raise ConfigError(f"unknown settings keys: {', '.join(sorted(unknown))}")
    plugin_names = set(plugin_schemas or {})
    kernel_data = {k: v for k, v in data.items() if k not in plugin_names}
    kernel = _convert("", KernelSettings, kernel_data)
    sections = {
        name: _convert(name, schema, data.get(name, {}))
        for name, schema in (plugin_schemas or {}).items()
    }
    return Settings(kernel=kernel, sections=sections, source=source)


def configured_values(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    plugin_schemas: Mapping[str, type[msgspec.Struct]] | None = None,
) -> dict[str, Any]:
    """What ``config_file`` and ``ENCLAVA_*`` variables set explicitly, by section; no defaults."""
    data = {} if config_file is None else _read_toml(config_file)
    env_data = _env_overrides(os.environ if env is None else env, _schemas(plugin_schemas or {}))
    return _merge(data, env_data)


_SECRET_NAME = re.compile(r"(key|secret|password|token|credential|pepper)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")


def _mask(name: str, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(k, v) for k, v in value.items()}
    if isinstance(value, str):
        if value and _SECRET_NAME.search(name):
            return "********"
        return _URL_PASSWORD.sub(r"\g<head>********", value)
    return value


def mask_secrets(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with secret-looking fields and URL passwords masked."""
    masked: dict[str, Any] = _mask("", values)
    return masked


def masked_settings(settings: Settings) -> dict[str, Any]:
    """Effective settings as plain data with secret values and URL passwords masked."""
    masked: dict[str, Any] = _mask("", settings.as_dict())
    return masked


def apply_overrides(settings: Settings, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
    """``settings`` with plugin sections updated by runtime ``overrides``; ConfigError if bad."""
    sections = dict(settings.sections)
    for name, values in overrides.items():
        current = sections.get(name)
        if current is None:
            raise ConfigError(f"settings section [{name}] is not declared by any plugin")
        merged = {**msgspec.to_builtins(current), **values}
        sections[name] = _convert(name, type(current), merged)
    return Settings(kernel=settings.kernel, sections=sections, source=settings.source)
