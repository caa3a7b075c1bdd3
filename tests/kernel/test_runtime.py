"""Kernel runtime: settings changed at runtime reach every replica; audit events reach sinks."""

from __future__ import annotations

import asyncio
import gc
import os
import platform
from pathlib import Path
from typing import Any

import msgspec
import pytest
from support.plugins import kernel_plugins

from kernel.app import create_app
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.hookspecs import hookimpl
from kernel.runtime import GC_YOUNG_THRESHOLD, Kernel, release_free_heap
from kernel.settings import load_settings
from kernel.types import AuditEvent, SettingsSection


class GreeterSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    greeting: str = "hello"
    times: int = 1
    api_key: str = ""


class Configurable:
    PLUGIN_NAME = "configurable"

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.built_with: list[str] = []

    @hookimpl
    def enclava_settings_schema(self) -> SettingsSection:
        return SettingsSection(name="configurable", schema=GreeterSettings)

    @hookimpl
    def enclava_audit_sinks(self, kernel: Kernel) -> list[Any]:
        self.built_with.append(kernel.settings.section("configurable", GreeterSettings).greeting)
        events = self.events

        class Sink:
            name = "memory"

            async def write(self, event: AuditEvent) -> None:
                events.append(event)

        return [Sink()]


def _app(make_settings: Any, database_url: str, redis_prefix: str | None, plugin: Any) -> Any:
    manager = kernel_plugins(plugin)
    base = make_settings(database_url, redis_prefix=redis_prefix)
    env = {
        "ENCLAVA_DATA_DIR": base.kernel.data_dir,
        "ENCLAVA_DATABASE_URL": base.kernel.database.url,
        "ENCLAVA_REDIS_URL": base.kernel.redis.url,
        "ENCLAVA_REDIS_PREFIX": base.kernel.redis.prefix,
        "ENCLAVA_CONFIGURABLE_API_KEY": "s3cret",
    }
    settings = load_settings(env=env, plugin_schemas=manager.settings_schemas())
    return create_app(settings, plugins=manager)


async def test_runtime_settings_reach_second_replica(
    make_settings: Any, running: Any, database_url: str, redis_prefix: str
) -> None:
    plugin_a, plugin_b = Configurable(), Configurable()
    app_a = _app(make_settings, database_url, redis_prefix, plugin_a)
    app_b = _app(make_settings, database_url, redis_prefix, plugin_b)
    async with running(app_a), running(app_b):
        kernel_a: Kernel = app_a.state.kernel
        kernel_b: Kernel = app_b.state.kernel
        section = await kernel_a.update_section(
            "configurable", {"greeting": "bonjour", "api_key": "********"}
        )
        assert section == GreeterSettings(greeting="bonjour", api_key="s3cret")
        for _ in range(200):
            current = kernel_b.settings.section("configurable", GreeterSettings)
            if current.greeting == "bonjour":
                break
            await asyncio.sleep(0.02)
        assert current == GreeterSettings(greeting="bonjour", api_key="s3cret")
        assert plugin_b.built_with[-1] == "bonjour"


async def test_bad_runtime_settings_are_refused(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    app = _app(make_settings, sqlite_url, None, Configurable())
    async with running(app):
        kernel: Kernel = app.state.kernel
        with pytest.raises(InvalidRequestError, match="times"):
            await kernel.update_section("configurable", {"times": "many"})
        with pytest.raises(InvalidRequestError, match="colour"):
            await kernel.update_section("configurable", {"colour": "red"})
        with pytest.raises(NotFoundError):
            await kernel.update_section("server", {"port": 1})
        assert kernel.settings.section("configurable", GreeterSettings).times == 1


async def test_a_started_kernel_collects_again_and_raises_the_young_threshold(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    """Boot's objects are frozen and young collections become rare (the hot path leaves no
    reference cycles: tests/builtin_plugins/usage/test_admission.py)."""
    gc.set_threshold(700, 10, 10)
    gc.disable()  # as the ``enclava`` command boots (kernel/entry.py)
    try:
        async with running(_app(make_settings, sqlite_url, None, Configurable())):
            assert gc.isenabled()
            assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
            assert gc.get_freeze_count() > 0
    finally:
        gc.enable()


async def test_runtime_settings_survive_restart(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    plugin = Configurable()
    app = _app(make_settings, sqlite_url, None, plugin)
    async with running(app):
        await app.state.kernel.update_section("configurable", {"times": 3})
    settings = app.state.kernel.base_settings
    again = create_app(settings, plugins=kernel_plugins(Configurable()))
    async with running(again):
        assert again.state.kernel.settings.section("configurable", GreeterSettings).times == 3


async def test_audit_events_reach_enabled_sinks(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    plugin = Configurable()
    app = _app(make_settings, sqlite_url, None, plugin)
    async with running(app):
        kernel: Kernel = app.state.kernel
        event = AuditEvent(action="test.event", outcome="success", actor_id="u1")
        await kernel.audit(event)
        assert plugin.events == [event]
        await kernel.set_enabled("configurable", enabled=False)
        await kernel.audit(AuditEvent(action="test.other", outcome="failure"))
        assert plugin.events == [event]


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_free_heap_pages_go_back_to_the_os() -> None:
    """What boot freed below live objects stays mapped until the kernel trims the heap."""
    chunks = [bytes(4000) for _ in range(10_000)]  # ~40 MB on the C heap
    kept = bytes(4000)  # above them: the heap top cannot shrink past it by itself
    del chunks
    before = _rss_bytes()
    assert release_free_heap()
    assert _rss_bytes() < before - 20 * 2**20
    assert len(kept) == 4000
