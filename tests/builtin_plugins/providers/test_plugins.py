"""The two plugins inside a real kernel: what they contribute for which settings, and when a
provider is rebuilt or kept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from litestar import Litestar
from support.providers import Gateway, call_for, env_for, provider_named

from builtin_plugins.providers.privatemode import PrivatemodeProvider
from builtin_plugins.providers.redpill import RedPillProvider
from builtin_plugins.simulators.testing import running_simulator
from kernel.errors import ConfigError
from kernel.runtime import Kernel
from kernel.upstream import Provider


def tasks_of(kernel: Kernel, plugin: str) -> dict[str, float]:
    return {t.name: t.interval for p, t in kernel.components.background_tasks if p == plugin}


async def wait_healthy(provider: Provider) -> None:
    """Until the discovery task's first run succeeded (it runs at start, in the background)."""
    async with asyncio.timeout(5):
        while not provider.healthy:  # noqa: ASYNC110 - polling the real task's effect
            await asyncio.sleep(0.01)


async def test_providers_carry_their_settings_and_discover_at_start(gateway: Gateway) -> None:
    async with (
        running_simulator("privatemode") as pm_sim,
        running_simulator("redpill") as rp_sim,
        gateway(
            **env_for("privatemode", pm_sim, PRIORITY="4", MAX_RETRIES="1"),
            **env_for("redpill", rp_sim, REQUESTS_PER_MINUTE="90", REGION="us"),
            ENCLAVA_PRIVATEMODE_DISCOVERY_INTERVAL_SECONDS="45",
        ) as kernel,
    ):
        privatemode = provider_named(kernel, "privatemode")
        redpill = provider_named(kernel, "redpill")
        await wait_healthy(privatemode)
        await wait_healthy(redpill)
        assert tasks_of(kernel, "privatemode") == {"model-discovery-1": 45.0}
        assert tasks_of(kernel, "redpill") == {"model-discovery-1": 300.0}
    assert isinstance(privatemode, PrivatemodeProvider)
    assert isinstance(redpill, RedPillProvider)
    for provider in (privatemode, redpill):
        assert isinstance(provider, Provider)
        assert provider.confidential
    assert (privatemode.kind, privatemode.region, privatemode.priority) == ("privatemode", "eu", 4)
    assert (privatemode.max_retries, privatemode.requests_per_minute) == (1, None)
    assert privatemode.requires_attestation is False
    assert (redpill.kind, redpill.region, redpill.priority) == ("redpill", "us", 20)
    assert (redpill.max_retries, redpill.requests_per_minute) == (2, 90)
    assert redpill.requires_attestation is True


@pytest.mark.parametrize(
    "env",
    [
        {"ENCLAVA_PRIVATEMODE_ENABLED": "false"},
        {"ENCLAVA_REDPILL_ENABLED": "true"},
        {"ENCLAVA_REDPILL_API_KEY": "sk-x", "ENCLAVA_REDPILL_ENABLED": "false"},
    ],
    ids=["privatemode disabled", "redpill without a key", "redpill disabled with a key"],
)
async def test_inactive_providers_contribute_nothing(gateway: Gateway, env: dict[str, str]) -> None:
    async with gateway(**env) as kernel:
        assert kernel.components.providers == ()
        assert tasks_of(kernel, "privatemode") == tasks_of(kernel, "redpill") == {}


async def test_the_key_file_is_read_and_used(gateway: Gateway, tmp_path: Path) -> None:
    key_file = tmp_path / "redpill.key"
    key_file.write_text("sim-test-key\n")
    async with (
        running_simulator("redpill") as sim,
        gateway(
            ENCLAVA_REDPILL_URL=sim.base_url, ENCLAVA_REDPILL_API_KEY_FILE=str(key_file)
        ) as kernel,
    ):
        provider = provider_named(kernel, "redpill")
        await provider.refresh()
        key_file.write_text("changed-after-build")
        info = next(m for m in await provider.list_models() if "generate" in m.tasks)
        body = b'{"model":"%s","messages":[{"role":"user","content":"hi"}]}' % info.id.encode()
        result = await provider.send(call_for(info, body, endpoint="/chat/completions"))
    assert result.status == 200


def test_an_unreadable_key_file_fails_the_component_build(
    build_app: Callable[..., Litestar], tmp_path: Path
) -> None:
    kernel = build_app(ENCLAVA_REDPILL_API_KEY_FILE=str(tmp_path / "missing")).state.kernel
    with pytest.raises(ConfigError, match=r"api_key_file .*missing cannot be read"):
        kernel.build_components(frozenset({"health", "redpill"}))


async def test_settings_changes_rebuild_and_rediscover_only_what_changed(gateway: Gateway) -> None:
    async with (
        running_simulator("privatemode") as pm_sim,
        running_simulator("redpill") as rp_sim,
        gateway(**env_for("privatemode", pm_sim), **env_for("redpill", rp_sim)) as kernel,
    ):
        privatemode, redpill = (
            provider_named(kernel, "privatemode"),
            provider_named(kernel, "redpill"),
        )
        await wait_healthy(privatemode)
        await wait_healthy(redpill)
        models = await redpill.list_models()
        await kernel.update_section("privatemode", {"priority": 3})
        rebuilt = provider_named(kernel, "privatemode")
        assert rebuilt is not privatemode
        assert rebuilt.priority == 3
        assert tasks_of(kernel, "privatemode") == {"model-discovery-2": 300.0}
        await wait_healthy(rebuilt)
        assert provider_named(kernel, "redpill") is redpill
        assert await redpill.list_models() is models
        await kernel.set_enabled("redpill", enabled=False)
        assert [p.name for p in kernel.components.providers] == ["privatemode"]
        assert tasks_of(kernel, "redpill") == {}
        await kernel.set_enabled("redpill", enabled=True)
        assert provider_named(kernel, "redpill") is redpill


async def test_an_unreadable_key_file_set_at_runtime_keeps_the_running_provider(
    gateway: Gateway, tmp_path: Path
) -> None:
    async with (
        running_simulator("privatemode") as sim,
        gateway(**env_for("privatemode", sim)) as kernel,
    ):
        running = provider_named(kernel, "privatemode")
        missing = str(tmp_path / "missing")
        await kernel.update_section("privatemode", {"api_key": "", "api_key_file": missing})
        assert provider_named(kernel, "privatemode") is running
        assert tasks_of(kernel, "privatemode") == {"model-discovery-1": 300.0}
