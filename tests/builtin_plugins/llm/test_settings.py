"""``[llm]`` settings: provider timeouts must fit inside the request deadline (issue #20)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from builtin_plugins.llm.settings import LlmSettings, check_timeouts
from builtin_plugins.providers.settings import PrivatemodeSettings, RedPillSettings
from kernel.app import create_app
from kernel.errors import ConfigError
from kernel.plugins import PluginManager


def test_default_timeouts_fit_the_default_deadline() -> None:
    check_timeouts(
        LlmSettings(), {"privatemode": PrivatemodeSettings(), "redpill": RedPillSettings()}
    )


def test_a_read_timeout_beyond_the_deadline_is_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        check_timeouts(
            LlmSettings(request_deadline_seconds=60),
            {"privatemode": PrivatemodeSettings(read_timeout=90)},
        )
    assert "[privatemode] connect_timeout + read_timeout" in str(refused.value)
    assert "request_deadline_seconds (60 s)" in str(refused.value)


async def test_boot_fails_when_provider_timeouts_outlive_the_deadline(
    make_settings: Any, sqlite_url: str
) -> None:
    settings = make_settings(
        sqlite_url,
        ENCLAVA_LLM_REQUEST_DEADLINE_SECONDS="66",
        ENCLAVA_PRIVATEMODE_ENABLED="true",
        ENCLAVA_PRIVATEMODE_READ_TIMEOUT="70",
        ENCLAVA_REDPILL_ENABLED="false",
    )
    with pytest.raises(BaseException) as refused:  # noqa: PT011 - the lifespan wraps it in groups
        async with AsyncTestClient(create_app(settings, plugins=PluginManager())):
            pass
    error = refused.value
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, ConfigError)
    message = str(error)
    assert "[privatemode] connect_timeout + read_timeout (5 + 70 s)" in message
    assert "request_deadline_seconds (66 s)" in message
    assert "first_byte_timeout" not in message
    assert "[redpill]" not in message
