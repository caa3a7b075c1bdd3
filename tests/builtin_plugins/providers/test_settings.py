"""The ``[privatemode]`` and ``[redpill]`` sections: defaults, every field, refusals, key files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builtin_plugins.providers.settings import (
    PrivatemodeSettings,
    ProviderSettings,
    RedPillSettings,
    read_api_key,
)
from kernel.errors import ConfigError
from kernel.settings import load_settings

SCHEMAS = {"privatemode": PrivatemodeSettings, "redpill": RedPillSettings}


def sections(config_file: Path | None = None, /, **env: str) -> tuple[Any, Any]:
    settings = load_settings(config_file, env=env, plugin_schemas=SCHEMAS)
    return (
        settings.section("privatemode", PrivatemodeSettings),
        settings.section("redpill", RedPillSettings),
    )


def test_defaults() -> None:
    privatemode, redpill = sections()
    assert (privatemode.url, privatemode.priority, privatemode.region) == (
        "http://127.0.0.1:8080/v1",
        10,
        "eu",
    )
    assert (redpill.url, redpill.priority, redpill.region) == (
        "https://api.redpill.ai/v1",
        20,
        "us",
    )
    for section in (privatemode, redpill):
        assert section.enabled is True
        assert (section.api_key, section.api_key_file, section.has_key) == ("", "", False)
        assert (section.max_retries, section.requests_per_minute) == (2, None)
        assert (section.model_allowlist, section.aliases) == ([], {})
        assert section.discovery_interval_seconds == 300
        assert section.connect_timeout > 0
        assert section.idle_chunk_timeout > 0


def test_documented_environment_variables() -> None:
    privatemode, redpill = sections(
        ENCLAVA_PRIVATEMODE_URL="http://proxy:9000/v1",
        ENCLAVA_REDPILL_URL="http://redpill.test/v1",
        ENCLAVA_REDPILL_API_KEY="sk-rp",
    )
    assert privatemode.url == "http://proxy:9000/v1"
    assert (redpill.url, redpill.api_key, redpill.has_key) == (
        "http://redpill.test/v1",
        "sk-rp",
        True,
    )


@pytest.mark.parametrize(
    ("var", "raw", "field", "value"),
    [
        ("ENABLED", "false", "enabled", False),
        ("URL", "https://x.test/v1", "url", "https://x.test/v1"),
        ("API_KEY", "k1", "api_key", "k1"),
        ("API_KEY_FILE", "/run/secrets/k", "api_key_file", "/run/secrets/k"),
        ("PRIORITY", "3", "priority", 3),
        ("REGION", "us", "region", "us"),
        ("CONNECT_TIMEOUT", "1.5", "connect_timeout", 1.5),
        ("READ_TIMEOUT", "75", "read_timeout", 75.0),
        ("FIRST_BYTE_TIMEOUT", "12", "first_byte_timeout", 12.0),
        ("IDLE_CHUNK_TIMEOUT", "7", "idle_chunk_timeout", 7.0),
        ("MAX_RETRIES", "0", "max_retries", 0),
        ("REQUESTS_PER_MINUTE", "120", "requests_per_minute", 120),
        ("MODEL_ALLOWLIST", "a,b/c", "model_allowlist", ["a", "b/c"]),
        ("ALIASES", '{"fast": "gpt-oss-120b"}', "aliases", {"fast": "gpt-oss-120b"}),
        ("DISCOVERY_INTERVAL_SECONDS", "60", "discovery_interval_seconds", 60.0),
    ],
)
@pytest.mark.parametrize("section", ["privatemode", "redpill"])
def test_every_field_from_env(section: str, var: str, raw: str, field: str, value: Any) -> None:
    privatemode, redpill = sections(**{f"ENCLAVA_{section.upper()}_{var}": raw})
    chosen = privatemode if section == "privatemode" else redpill
    assert getattr(chosen, field) == value


def test_fields_from_config_file(tmp_path: Path) -> None:
    config = tmp_path / "enclava.toml"
    config.write_text(
        '[privatemode]\nenabled = false\nmodel_allowlist = ["gpt-oss-120b"]\n'
        '[redpill]\npriority = 1\naliases = { "qwen" = "phala/qwen-2.5-7b-instruct" }\n'
    )
    privatemode, redpill = sections(config)
    assert (privatemode.enabled, privatemode.model_allowlist) == (False, ["gpt-oss-120b"])
    assert (redpill.priority, redpill.aliases) == (1, {"qwen": "phala/qwen-2.5-7b-instruct"})


@pytest.mark.parametrize(
    ("var", "raw", "message"),
    [
        ("URL", "ftp://x", "url must be an http"),
        ("URL", "", "url must be an http"),
        ("REGION", "EU", "region must be a lowercase name"),
        ("CONNECT_TIMEOUT", "0", "connect_timeout must be positive"),
        ("READ_TIMEOUT", "-1", "read_timeout must be positive"),
        ("FIRST_BYTE_TIMEOUT", "0", "first_byte_timeout must be positive"),
        ("IDLE_CHUNK_TIMEOUT", "0", "idle_chunk_timeout must be positive"),
        ("MAX_RETRIES", "-1", "max_retries must be between 0 and 10"),
        ("MAX_RETRIES", "11", "max_retries must be between 0 and 10"),
        ("REQUESTS_PER_MINUTE", "0", "requests_per_minute must be at least 1"),
        ("MODEL_ALLOWLIST", '["a", ""]', "model_allowlist entries must not be empty"),
        ("ALIASES", '{"same": "same"}', "must name two different ids"),
        ("ALIASES", '{"x": ""}', "must name two different ids"),
        ("DISCOVERY_INTERVAL_SECONDS", "0.5", "discovery_interval_seconds must be at least 1"),
        ("PRIORITY", "high", "Expected `int`"),
        ("SURPRISE", "1", "unknown environment variable ENCLAVA_REDPILL_SURPRISE"),
    ],
)
def test_bad_values_fail_at_boot(var: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sections(**{f"ENCLAVA_REDPILL_{var}": raw})


def test_key_and_key_file_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="api_key or api_key_file, not both"):
        sections(ENCLAVA_REDPILL_API_KEY="a", ENCLAVA_REDPILL_API_KEY_FILE="/k")


def test_read_api_key_inline_file_and_none(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("  sk-from-file\n")
    assert read_api_key(RedPillSettings(api_key="sk-inline")) == "sk-inline"
    assert read_api_key(RedPillSettings(api_key_file=str(key_file))) == "sk-from-file"
    assert read_api_key(PrivatemodeSettings()) == ""


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_unreadable_or_empty_key_file_is_a_config_error(
    tmp_path: Path, content: str | None
) -> None:
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)
    with pytest.raises(ConfigError, match="api_key_file"):
        read_api_key(RedPillSettings(api_key_file=str(key_file)))


def test_the_base_schema_has_no_usable_url() -> None:
    with pytest.raises(ValueError, match="url"):
        ProviderSettings()
