"""The demo plugin inside a real app: simulators, banner, trust anchor, refusal, toggling, and the
admin account it makes for the dashboard."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import httpx
import pytest

from builtin_plugins.attestation.service import service_of
from builtin_plugins.demo.runtime import DEMO_ADMIN, dashboard_url
from builtin_plugins.demo.serve_flag import prepare_demo
from builtin_plugins.providers.settings import PrivatemodeSettings, RedPillSettings
from kernel.app import create_app
from kernel.errors import ConfigError
from kernel.runtime import Kernel
from kernel.upstream import ModelInfo

REDPILL_ONLY = ModelInfo(
    id="phala/qwen-2.5-7b-instruct",
    provider="redpill",
    upstream_id="phala/qwen-2.5-7b-instruct",
    region="us",
)


def _demo_settings(make_settings: Any, sqlite_url: str, **env: str) -> Any:
    demo_env = {
        **prepare_demo(make_settings(sqlite_url), {}),
        "ENCLAVA_ATTESTATION_RETRY_SECONDS": "0.05",
        **env,
    }
    return make_settings(sqlite_url, **demo_env)


def _urls(kernel: Kernel) -> list[str]:
    """The simulators' model lists (where the providers point)."""
    sections = (("privatemode", PrivatemodeSettings), ("redpill", RedPillSettings))
    return [f"{kernel.settings.section(name, schema).url}/models" for name, schema in sections]


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code == 200
    except httpx.TransportError:
        return False


def _status(kernel: Kernel) -> Any:
    [verifier] = [v for v in kernel.components.verifiers if v.provider_kind == "redpill"]
    return verifier.status("redpill", REDPILL_ONLY)


async def _until_attested(kernel: Kernel) -> None:
    for _ in range(200):
        if _status(kernel).valid:
            assert _status(kernel).label == "simulated"
            return
        await asyncio.sleep(0.05)
    raise AssertionError(_status(kernel).reason)


async def test_demo_runs_both_simulators_and_announces_itself(
    make_settings: Any,
    sqlite_url: str,
    running: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(_demo_settings(make_settings, sqlite_url))
    kernel: Kernel = app.state.kernel
    with caplog.at_level(logging.WARNING, logger="builtin_plugins.demo"):
        async with running(app):
            assert all([await _answers(url) for url in _urls(kernel)])
            kinds = sorted(v.provider_kind for v in kernel.components.verifiers)
            assert kinds == ["privatemode", "redpill"]
            await _until_attested(kernel)
            urls = _urls(kernel)
    banner = capsys.readouterr().err
    assert "DEMO MODE" in banner
    assert "SIMULATED" in banner
    assert "not confidential" in caplog.text
    assert not any([await _answers(url) for url in urls])


async def test_disabling_the_plugin_stops_the_simulators_and_restores_dcap(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    app = create_app(_demo_settings(make_settings, sqlite_url))
    kernel: Kernel = app.state.kernel
    async with running(app):
        await _until_attested(kernel)
        await kernel.set_enabled("demo", enabled=False)
        assert not service_of(kernel).trust().simulated
        assert not _status(kernel).valid
        assert not any([await _answers(url) for url in _urls(kernel)])
        await kernel.set_enabled("demo", enabled=True)
        assert all([await _answers(url) for url in _urls(kernel)])
        await _until_attested(kernel)


# The kernel creates every plugin's startup coroutine before awaiting them in turn; the ones
# after the refusing plugin are never awaited.
@pytest.mark.filterwarnings("ignore:coroutine 'enclava_startup' was never awaited")
async def test_demo_refuses_to_start_when_a_provider_is_not_its_simulator(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    settings = _demo_settings(
        make_settings, sqlite_url, ENCLAVA_REDPILL_URL="https://api.redpill.ai/v1"
    )
    with pytest.raises(BaseExceptionGroup) as caught:  # the lifespan's task group wraps it
        async with running(create_app(settings)):
            pass
    assert caught.group_contains(ConfigError, match="enclava serve --demo", depth=None)


async def test_without_demo_the_plugin_contributes_nothing(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    app = create_app(make_settings(sqlite_url))
    kernel: Kernel = app.state.kernel
    async with running(app):
        assert "demo" in kernel.components.enabled
        assert service_of(kernel).trust().label == "verified"
        assert all(plugin != "demo" for plugin, _ in kernel.components.background_tasks)


async def test_repointing_a_provider_at_runtime_unattests_it_at_once(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    app = create_app(_demo_settings(make_settings, sqlite_url))
    kernel: Kernel = app.state.kernel
    async with running(app):
        await _until_attested(kernel)
        await kernel.update_section("redpill", {"url": "https://api.redpill.ai/v1"})
        assert _status(kernel).reason == "provider URL changed"
        await service_of(kernel).refresh()
        assert not _status(kernel).valid


async def test_json_logs_carry_the_banner_as_one_log_line(
    make_settings: Any,
    sqlite_url: str,
    running: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With ``server.log_format = "json"`` nothing bypasses the log: the banner is a record
    (rendered as one JSON line), never raw text lines that break a line-by-line parser."""
    settings = _demo_settings(make_settings, sqlite_url, ENCLAVA_SERVER_LOG_FORMAT="json")
    with caplog.at_level(logging.WARNING, logger="builtin_plugins.demo"):
        async with running(create_app(settings)):
            pass
    assert "DEMO MODE" not in capsys.readouterr().err
    assert any("Nothing here is confidential" in r.getMessage() for r in caplog.records)


async def test_the_first_start_makes_a_dashboard_admin_with_a_one_time_password(
    make_settings: Any, sqlite_url: str, running: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running(create_app(_demo_settings(make_settings, sqlite_url))) as client:
        first = capsys.readouterr().err
        found = re.search(r"one-time password (\S+) ", first)
        assert found, first
        login = await client.post(
            "/api-internal/v1/auth/login",
            json={"email": DEMO_ADMIN, "password": found.group(1)},
        )
        token = login.json()["access_token"]
        me = await client.get(
            "/api-internal/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
    assert "!!  Dashboard: http://127.0.0.1:8000/dashboard/" in first
    assert login.status_code == 200, login.text
    assert me.json()["role"] == "super_admin"
    assert me.json()["force_password_change"] is True
    async with running(create_app(_demo_settings(make_settings, sqlite_url))):
        again = capsys.readouterr().err
    assert f"Sign in as {DEMO_ADMIN} (its first password" in again
    assert found.group(1) not in again


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/dashboard/"),
        ("0.0.0.0", "http://127.0.0.1:8000/dashboard/"),
        ("::", "http://[::1]:8000/dashboard/"),
        ("::1", "http://[::1]:8000/dashboard/"),
        ("gateway.internal", "http://gateway.internal:8000/dashboard/"),
    ],
)
def test_dashboard_url_for_each_bind(host: str, url: str) -> None:
    assert dashboard_url(host, 8000) == url
