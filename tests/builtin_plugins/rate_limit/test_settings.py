"""The ``[rate_limit]`` section: defaults, every field settable, bad values refused at boot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builtin_plugins.rate_limit.settings import RateLimitSettings
from kernel.errors import ConfigError
from kernel.settings import load_settings

SCHEMAS = {"rate_limit": RateLimitSettings}


def section(config_file: Path | None = None, **env: str) -> RateLimitSettings:
    settings = load_settings(config_file, env=env, plugin_schemas=SCHEMAS)
    return settings.section("rate_limit", RateLimitSettings)


def test_defaults() -> None:
    assert section() == RateLimitSettings(
        public_per_minute=1000,
        internal_per_minute=300,
        anonymous_per_minute=60,
        buckets={"login": 10, "refresh": 30},
    )


@pytest.mark.parametrize(
    ("var", "raw", "field", "value"),
    [
        ("PUBLIC_PER_MINUTE", "20", "public_per_minute", 20),
        ("INTERNAL_PER_MINUTE", "7", "internal_per_minute", 7),
        ("ANONYMOUS_PER_MINUTE", "5", "anonymous_per_minute", 5),
        ("BUCKETS", '{"login": 3, "reset": 2}', "buckets", {"login": 3, "reset": 2}),
    ],
)
def test_every_field_from_env(var: str, raw: str, field: str, value: Any) -> None:
    loaded = getattr(section(**{f"ENCLAVA_RATE_LIMIT_{var}": raw}), field)
    if isinstance(value, dict):
        assert value.items() <= loaded.items()
    else:
        assert loaded == value


def test_fields_from_config_file(tmp_path: Path) -> None:
    config = tmp_path / "enclava.toml"
    config.write_text("[rate_limit]\npublic_per_minute = 50\nbuckets = { login = 4 }\n")
    loaded = section(config)
    assert (loaded.public_per_minute, loaded.buckets["login"]) == (50, 4)


@pytest.mark.parametrize(
    ("var", "raw", "message"),
    [
        ("PUBLIC_PER_MINUTE", "0", "public_per_minute must be at least 1"),
        ("INTERNAL_PER_MINUTE", "-1", "internal_per_minute must be at least 1"),
        ("ANONYMOUS_PER_MINUTE", "0", "anonymous_per_minute must be at least 1"),
        ("PUBLIC_PER_MINUTE", "lots", "rate_limit"),
        ("BUCKETS", '{"login": 0}', "bucket 'login' must allow at least 1"),
        ("BUCKETS", '{"log in": 5}', "bucket name 'log in'"),
        ("BUCKETS", '{"anonymous": 5}', "reserved for anonymous_per_minute"),
        ("BUCKETS", "[1, 2]", "rate_limit"),
        ("BURST", "5", "unknown environment variable ENCLAVA_RATE_LIMIT_BURST"),
    ],
)
def test_bad_values_fail_boot(var: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        section(**{f"ENCLAVA_RATE_LIMIT_{var}": raw})
