"""Offline operations for the CLI: they open only the stores they need, never the vectors store
(an embedded Qdrant is locked by the running server)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from kernel.plugin_state import load_states, save_state
from kernel.plugins import PluginInfo, PluginManager
from kernel.runtime import CHANGE_CHANNEL, Kernel, resync_interval
from kernel.settings import Settings
from kernel.storage import migrate
from kernel.storage.stores import open_configured_kv, open_sql

__all__ = ["plugin_table", "run_migrations", "toggle_plugin"]


async def run_migrations(
    settings: Settings, plugins: PluginManager, *, thorough: bool = False
) -> None:
    """Apply kernel and plugin migrations to the configured database (``thorough``: always
    through Alembic, as ``enclava migrate`` does)."""
    db = open_sql(settings)
    try:
        await migrate.upgrade(db, plugins.migration_locations(), thorough=thorough)
    finally:
        await db.close()


async def plugin_table(settings: Settings, plugins: PluginManager) -> list[tuple[PluginInfo, bool]]:
    """Every registered plugin with its effective enabled state."""
    db = open_sql(settings)
    try:
        try:
            saved = await load_states(db)
        except DBAPIError:
            saved = {}  # not migrated yet: every plugin is at its default
    finally:
        await db.close()
    enabled = plugins.effective_enabled(saved, settings.kernel.plugins.disabled)
    return [(info, info.name in enabled) for info in plugins.all_info()]


async def toggle_plugin(
    settings: Settings, plugins: PluginManager, name: str, *, enabled: bool
) -> str:
    """Persist a toggle and announce it; returns when running servers apply it, in words."""
    plugins.require_toggleable(name, enabled=enabled)
    await run_migrations(settings, plugins)
    db = open_sql(settings)
    kv = open_configured_kv(settings)
    try:
        await Kernel(settings, plugins).refuse_toggle(db, name, enabled=enabled)
        await save_state(db, name, enabled=enabled)
        await kv.publish(CHANGE_CHANNEL, name.encode())
    finally:
        await kv.close()
        await db.close()
    if settings.kernel.redis.url:
        return "announced over Redis: running replicas apply it at once"
    return (
        f"a running server on this database applies it within {resync_interval(settings):g} s "
        "(no Redis to announce it; it re-reads plugin state that often)"
    )
