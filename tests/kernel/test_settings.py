"""Settings: defaults, then a TOML file, then ``ENCLAVA_*``; every mistake is a ConfigError.

Every call passes ``env=`` explicitly so the machine's own environment never leaks in.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from kernel.errors import ConfigError
from kernel.settings import configured_values, load_settings, masked_settings


class PrivatemodeSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A plugin's section, declared the way ``enclava_settings_schema`` would."""

    url: str = "https://api.privatemode.ai"
    timeout: float = 30.0
    api_key: str = ""


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "enclava.toml"
    path.write_text(text)
    return path


def test_defaults_load_without_file_or_environment() -> None:
    settings = load_settings(env={})
    kernel = settings.kernel
    assert kernel.data_dir == "./data"
    assert kernel.server.host == "127.0.0.1"
    assert kernel.server.port == 8000
    assert kernel.server.workers == 1
    assert (kernel.database.url, kernel.redis.url, kernel.qdrant.url) == ("", "", "")
    assert kernel.plugins.disabled == []
    assert settings.sections == {}
    assert settings.source == "defaults"


def test_config_file_overrides_defaults_and_env_overrides_file(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        'data_dir = "/srv/enclava"\n[server]\nport = 9000\nhost = "0.0.0.0"\n'
        '[redis]\nprefix = "file:"\n',
    )
    from_file = load_settings(config, env={})
    assert from_file.kernel.data_dir == "/srv/enclava"
    assert from_file.kernel.server.port == 9000
    assert from_file.kernel.server.host == "0.0.0.0"
    assert from_file.kernel.server.workers == 1  # untouched keys keep their default
    assert from_file.source == str(config)

    both = load_settings(config, env={"ENCLAVA_SERVER_PORT": "9100"})
    assert both.kernel.server.port == 9100
    assert both.kernel.server.host == "0.0.0.0"
    assert both.kernel.redis.prefix == "file:"


@pytest.mark.parametrize(
    ("var", "value", "path", "expected"),
    [
        ("ENCLAVA_DATABASE_URL", "postgresql+asyncpg://u@h/db", ("database", "url"), None),
        ("ENCLAVA_REDIS_URL", "redis://127.0.0.1:6379/0", ("redis", "url"), None),
        ("ENCLAVA_QDRANT_URL", "http://qdrant:6333", ("qdrant", "url"), None),
        ("ENCLAVA_DATA_DIR", "/var/lib/enclava", ("data_dir",), None),
        ("ENCLAVA_SERVER_PORT", "8443", ("server", "port"), 8443),
        ("ENCLAVA_SERVER_WORKERS", "4", ("server", "workers"), 4),
        ("ENCLAVA_DATABASE_ECHO", "true", ("database", "echo"), True),
    ],
)
def test_environment_variable_maps_to_its_field(
    var: str, value: str, path: tuple[str, ...], expected: object
) -> None:
    found: object = load_settings(env={var: value}).kernel
    for part in path:
        found = getattr(found, part)
    assert found == (value if expected is None else expected)


@pytest.mark.parametrize("raw", ["a,b", " a , b ,", '["a","b"]'])
def test_plugins_disabled_accepts_comma_list_and_json_array(raw: str) -> None:
    settings = load_settings(env={"ENCLAVA_PLUGINS_DISABLED": raw})
    assert settings.kernel.plugins.disabled == ["a", "b"]


def test_config_file_variable_is_not_a_setting() -> None:
    settings = load_settings(env={"ENCLAVA_CONFIG_FILE": "/does/not/matter.toml"})
    assert settings.source == "defaults"


def test_variables_without_the_prefix_are_ignored() -> None:
    settings = load_settings(env={"PATH": "/bin", "SERVER_PORT": "1", "enclava_x": "1"})
    assert settings.kernel.server.port == 8000


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("bogus = 1\n", "bogus"),
        ("[server]\nprot = 8001\n", "prot"),
        ("[unknown_section]\nx = 1\n", "unknown_section"),
    ],
)
def test_unknown_toml_key_is_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(_toml(tmp_path, text), env={})


@pytest.mark.parametrize(
    "var", ["ENCLAVA_BOGUS", "ENCLAVA_SERVER_PROT", "ENCLAVA_SERVER", "ENCLAVA_PRIVATEMODE_URL"]
)
def test_unknown_environment_variable_is_named(var: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown environment variable {var}$"):
        load_settings(env={var: "1"})


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("ENCLAVA_SERVER_PORT", "abc", r"Expected `int`.*server\.port"),
        ("ENCLAVA_SERVER_PORT", "70000", "port must be between 0 and 65535"),
        ("ENCLAVA_SERVER_WORKERS", "0", "workers must be at least 1"),
        ("ENCLAVA_SERVER_LOG_LEVEL", "loud", "log_level must be one of"),
        ("ENCLAVA_SERVER_MAX_BODY_BYTES", "10", "max_body_bytes must be at least 1024"),
        ("ENCLAVA_PLUGINS_RESYNC_SECONDS", "0", "resync_seconds must be positive"),
    ],
)
def test_bad_value_is_a_config_error_with_a_clear_message(
    var: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env={var: value})


def test_bad_value_in_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        load_settings(_toml(tmp_path, "[server]\nworkers = 0\n"), env={})


def test_invalid_toml_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    config = _toml(tmp_path, "[server\nport = \n")
    with pytest.raises(ConfigError, match="is not valid TOML") as caught:
        load_settings(config, env={})
    assert str(config) in str(caught.value)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_settings(missing, env={})
    assert str(missing) in str(caught.value)


def test_plugin_section_gets_defaults() -> None:
    settings = load_settings(env={}, plugin_schemas={"privatemode": PrivatemodeSettings})
    assert settings.section("privatemode", PrivatemodeSettings) == PrivatemodeSettings()


def test_plugin_section_reads_toml_and_environment(tmp_path: Path) -> None:
    config = _toml(tmp_path, '[privatemode]\ntimeout = 5\nurl = "https://from-file"\n')
    settings = load_settings(
        config,
        env={"ENCLAVA_PRIVATEMODE_URL": "https://from-env"},
        plugin_schemas={"privatemode": PrivatemodeSettings},
    )
    section = settings.section("privatemode", PrivatemodeSettings)
    assert isinstance(section, PrivatemodeSettings)
    assert section.timeout == 5.0
    assert section.url == "https://from-env"


def test_plugin_section_rejects_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    schemas = {"privatemode": PrivatemodeSettings}
    config = _toml(tmp_path, "[privatemode]\ntimout = 5\n")
    with pytest.raises(ConfigError, match="timout"):
        load_settings(config, env={}, plugin_schemas=schemas)
    with pytest.raises(ConfigError, match=r"\[privatemode\]"):
        load_settings(env={"ENCLAVA_PRIVATEMODE_TIMEOUT": "soon"}, plugin_schemas=schemas)


def test_undeclared_section_raises_config_error() -> None:
    settings = load_settings(env={}, plugin_schemas={"privatemode": PrivatemodeSettings})
    with pytest.raises(ConfigError, match=r"\[redpill\] is not declared"):
        settings.section("redpill", PrivatemodeSettings)


@pytest.mark.parametrize("name", ["server", "database", "plugins", "data_dir"])
def test_plugin_section_clashing_with_kernel_name_is_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match=f"clash with kernel sections.*{name}"):
        load_settings(env={}, plugin_schemas={name: PrivatemodeSettings})


def test_masked_settings_hide_secrets_and_url_passwords() -> None:
    env = {
        "ENCLAVA_DATABASE_URL": "postgresql+asyncpg://enclava:pg-secret@db.internal:5432/gw",
        "ENCLAVA_REDIS_URL": "redis://:redis-secret@cache.internal:6379/0",
        "ENCLAVA_QDRANT_URL": "http://qdrant.internal:6333",
        "ENCLAVA_QDRANT_API_KEY": "qdrant-secret",
        "ENCLAVA_FILES_KEY": "files-secret",
        "ENCLAVA_PRIVATEMODE_API_KEY": "pm-secret",
        "ENCLAVA_REDIS_PREFIX": "gw-prefix:",
        "ENCLAVA_SERVER_HOST": "10.0.0.7",
    }
    settings = load_settings(env=env, plugin_schemas={"privatemode": PrivatemodeSettings})
    masked = masked_settings(settings)
    rendered = msgspec.json.encode(masked).decode()
    for secret in ("pg-secret", "redis-secret", "qdrant-secret", "files-secret", "pm-secret"):
        assert secret not in rendered
    assert masked["database"]["url"] == "postgresql+asyncpg://enclava:********@db.internal:5432/gw"
    assert masked["redis"]["url"] == "redis://:********@cache.internal:6379/0"
    assert masked["qdrant"]["url"] == "http://qdrant.internal:6333"
    assert masked["qdrant"]["api_key"] == "********"
    assert masked["files"]["key"] == "********"
    assert masked["privatemode"]["api_key"] == "********"
    assert masked["redis"]["prefix"] == "gw-prefix:"
    assert masked["server"]["host"] == "10.0.0.7"
    assert masked["server"]["port"] == 8000
    assert masked["privatemode"]["url"] == "https://api.privatemode.ai"


def test_masked_settings_leave_unset_secrets_empty() -> None:
    masked = masked_settings(load_settings(env={}))
    assert masked["files"]["key"] == ""
    assert masked["qdrant"]["api_key"] == ""


def test_configured_values_hold_only_what_the_file_and_environment_set(tmp_path: Path) -> None:
    config = _toml(tmp_path, "[server]\nport = 9000\n[privatemode]\ntimeout = 5.0\n")
    env = {"ENCLAVA_PRIVATEMODE_URL": "https://api.privatemode.ai", "ENCLAVA_DATA_DIR": "/d"}
    configured = configured_values(
        config, env=env, plugin_schemas={"privatemode": PrivatemodeSettings}
    )
    assert configured == {
        "server": {"port": 9000},
        "privatemode": {"timeout": 5.0, "url": "https://api.privatemode.ai"},
        "data_dir": "/d",
    }
    assert configured_values(None, env={}) == {}


def test_configured_values_reject_unknown_variables() -> None:
    with pytest.raises(ConfigError, match="ENCLAVA_NOPE_X"):
        configured_values(None, env={"ENCLAVA_NOPE_X": "1"})
