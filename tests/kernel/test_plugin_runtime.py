"""PluginRuntime: one runtime per kernel in its stash, typed settings, and a change channel that
reaches every replica while the plugin runs."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from support.plugins import kernel_plugins

from kernel.app import create_app
from kernel.dependencies import kernel_of
from kernel.hookspecs import hookimpl
from kernel.plugin_runtime import PluginRuntime
from kernel.runtime import Kernel
from kernel.settings import load_settings
from kernel.types import SettingsSection


class NotesSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    title: str = "notes"


class NotesRuntime(PluginRuntime[NotesSettings]):
    section = "notes"
    schema = NotesSettings
    channel = "notes.changed"

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self.received: list[bytes] = []

    async def on_changed(self, message: bytes) -> None:
        self.received.append(message)


class OtherRuntime(NotesRuntime):
    """A second runtime class: it must get a stash slot of its own."""


class Notes:
    PLUGIN_NAME = "notes"

    @hookimpl
    def enclava_settings_schema(self) -> SettingsSection:
        return NotesRuntime.settings_section()

    @hookimpl
    async def enclava_startup(self, kernel: Kernel) -> None:
        await NotesRuntime.of(kernel).start()

    @hookimpl
    async def enclava_shutdown(self, kernel: Kernel) -> None:
        await NotesRuntime.of(kernel).stop()


def _app(make_settings: Any, database_url: str, redis_prefix: str | None, **env: str) -> Any:
    manager = kernel_plugins(Notes())
    base = make_settings(database_url, redis_prefix=redis_prefix)
    values = {
        "ENCLAVA_DATA_DIR": base.kernel.data_dir,
        "ENCLAVA_DATABASE_URL": base.kernel.database.url,
        "ENCLAVA_REDIS_URL": base.kernel.redis.url,
        "ENCLAVA_REDIS_PREFIX": base.kernel.redis.prefix,
        **env,
    }
    settings = load_settings(env=values, plugin_schemas=manager.settings_schemas())
    return create_app(settings, plugins=manager)


async def _eventually(check: Any) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.02)
    assert check()


def test_one_runtime_per_kernel_and_class(make_settings: Any, sqlite_url: str) -> None:
    kernel_a = kernel_of(_app(make_settings, sqlite_url, None))
    kernel_b = kernel_of(_app(make_settings, sqlite_url, None))
    runtime = NotesRuntime.of(kernel_a)
    assert NotesRuntime.of(kernel_a) is runtime
    assert runtime.kernel is kernel_a
    assert NotesRuntime.of(kernel_b) is not runtime
    other = OtherRuntime.of(kernel_a)
    assert type(other) is OtherRuntime
    assert other is not runtime
    assert NotesRuntime.of(kernel_a) is runtime


def test_settings_are_the_typed_section(make_settings: Any, sqlite_url: str) -> None:
    app = _app(make_settings, sqlite_url, None, ENCLAVA_NOTES_TITLE="journal")
    assert NotesRuntime.settings_section() == SettingsSection(name="notes", schema=NotesSettings)
    assert NotesRuntime.of(kernel_of(app)).settings == NotesSettings(title="journal")


def test_a_runtime_must_apply_changes() -> None:
    class Incomplete(PluginRuntime[NotesSettings]):
        section, schema, channel = "notes", NotesSettings, "notes.changed"

    with pytest.raises(TypeError, match="on_changed"):
        Incomplete(None)  # type: ignore[abstract, arg-type]


async def test_changes_reach_every_replica_while_running(
    make_settings: Any, running: Any, sqlite_url: str, redis_prefix: str
) -> None:
    app_a = _app(make_settings, sqlite_url, redis_prefix)
    app_b = _app(make_settings, sqlite_url, redis_prefix)
    a, b = NotesRuntime.of(kernel_of(app_a)), NotesRuntime.of(kernel_of(app_b))
    async with running(app_a), running(app_b):
        assert a.listening
        assert b.listening
        await a.start()  # a second start does not subscribe twice
        await a.publish(b"note-1")
        await _eventually(lambda: b.received == [b"note-1"] and a.received == [b"note-1"])
        await b.stop()
        assert not b.listening
        await a.publish(b"note-2")
        await _eventually(lambda: a.received == [b"note-1", b"note-2"])
        await asyncio.sleep(0.1)
        assert b.received == [b"note-1"]
    assert not a.listening
