"""The verified-key cache and its settings: hits cost no SQL, the TTL and size bound what a
replica trusts without SQL, and the pepper decides which stored hashes match."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from builtin_plugins.api_keys.store import update_key
from kernel.settings import load_settings

WHOAMI = "/api/v1/probe/whoami"


def _pepper() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class StatementCounter:
    """Counts SQL statements an engine executes (SQLAlchemy's own event hook)."""

    def __init__(self, app: Any) -> None:
        self.engine = app.state.kernel.stores.db.engine.sync_engine
        self.count = 0

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


async def test_a_cached_key_costs_no_sql(make_app: Any, running: Any, new_key: Any) -> None:
    app = make_app()
    async with running(app) as client:
        key, _ = await new_key(app)
        with StatementCounter(app) as first:
            assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 200
        with StatementCounter(app) as later:
            for _ in range(5):
                assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 200
        assert first.count >= 1
        assert later.count == 0


@pytest.mark.parametrize(("ttl", "still_served"), [("3600", True), ("0", False)])
async def test_cache_ttl_bounds_how_long_a_row_change_goes_unseen(
    make_app: Any, running: Any, new_key: Any, ttl: str, still_served: bool
) -> None:
    app = make_app(ENCLAVA_API_KEYS_CACHE_TTL_SECONDS=ttl)
    async with running(app) as client:
        key, record = await new_key(app)
        assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 200
        # A change written behind the plugin's back (no announcement) is only seen after the TTL.
        await update_key(app.state.kernel.stores.db, record.id, {"revoked_at": datetime.now(UTC)})
        response = await client.get(WHOAMI, headers={"X-API-Key": key})
        assert response.status_code == (200 if still_served else 401)


async def test_cache_settings_changed_at_runtime_apply_at_once(
    make_app: Any, running: Any, new_key: Any
) -> None:
    app = make_app(ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600")
    async with running(app) as client:
        key, record = await new_key(app)
        assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 200
        await app.state.kernel.update_section("api_keys", {"cache_ttl_seconds": 0})
        await update_key(app.state.kernel.stores.db, record.id, {"revoked_at": datetime.now(UTC)})
        assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 401


@pytest.mark.parametrize(("size", "still_served"), [("10", True), ("1", False)])
async def test_cache_max_entries_evicts_the_least_recently_used(
    make_app: Any, running: Any, new_key: Any, size: str, still_served: bool
) -> None:
    app = make_app(
        ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600", ENCLAVA_API_KEYS_CACHE_MAX_ENTRIES=size
    )
    async with running(app) as client:
        first, record = await new_key(app)
        second, _ = await new_key(app)
        assert (await client.get(WHOAMI, headers={"X-API-Key": first})).status_code == 200
        assert (await client.get(WHOAMI, headers={"X-API-Key": second})).status_code == 200
        await update_key(app.state.kernel.stores.db, record.id, {"revoked_at": datetime.now(UTC)})
        response = await client.get(WHOAMI, headers={"X-API-Key": first})
        assert response.status_code == (200 if still_served else 401)


async def test_the_pepper_decides_which_hashes_match(
    make_app: Any, running: Any, new_key: Any
) -> None:
    pepper = _pepper()
    app = make_app(ENCLAVA_API_KEYS_PEPPER=pepper)
    async with running(app):
        key, _ = await new_key(app)
    for other, status in ((_pepper(), 401), (pepper, 200)):
        replica = make_app(ENCLAVA_API_KEYS_PEPPER=other)
        async with running(replica) as client:
            response = await client.get(WHOAMI, headers={"X-API-Key": key})
            assert response.status_code == status, response.text


async def test_without_a_setting_the_pepper_is_generated_once_in_the_data_dir(
    make_app: Any, running: Any, new_key: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "shared-data"
    app = make_app(ENCLAVA_DATA_DIR=str(data_dir))
    async with running(app):
        key, _ = await new_key(app)
    secret = data_dir / "secrets" / "api_keys.pepper"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_bytes()) == 32
    same_dir = make_app(ENCLAVA_DATA_DIR=str(data_dir))
    async with running(same_dir) as client:
        assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 200
    other_dir = make_app()
    async with running(other_dir) as client:
        assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 401


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENCLAVA_API_KEYS_PEPPER": "c2hvcnQ="}, "pepper"),
        ({"ENCLAVA_API_KEYS_CACHE_TTL_SECONDS": "-1"}, "cache_ttl_seconds"),
        ({"ENCLAVA_API_KEYS_CACHE_MAX_ENTRIES": "-5"}, "cache_max_entries"),
    ],
)
def test_bad_settings_stop_the_boot(env: dict[str, str], message: str) -> None:
    from kernel.errors import ConfigError
    from kernel.plugins import PluginManager

    schemas = PluginManager(load_entry_points=False).settings_schemas()
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env, plugin_schemas=schemas)
