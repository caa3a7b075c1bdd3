"""``@schedule`` through the real app, ticked at chosen times: every fire time runs once, on
exactly one of two replicas sharing SQL and Redis; failures are logged and audited without
stopping the scheduler; a disabled plugin's schedules stop."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import text
from support.identity import admin_headers

from builtin_plugins.wasm_plugins.schedules import Fire, Scheduler, scheduler_of
from kernel.app import create_app

from .conftest import Install

START = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
TICKS = "/api-internal/v1/plugins/hello/ticks"


def _scheduler(app: Litestar) -> Scheduler:
    """The app's scheduler with its clock stopped at START (set before the app starts, so its
    background ticks never read the real time); the test ticks it at chosen times."""
    scheduler = scheduler_of(app.state.kernel)
    scheduler.clock = lambda: START
    return scheduler


def _at(minutes: float) -> datetime:
    return START.replace(second=0) + timedelta(minutes=minutes)


async def _ticks(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    answer = await client.get(TICKS, headers=headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["ticks"])


async def test_each_fire_time_runs_on_exactly_one_of_two_replicas(
    make_settings: Any, database_url: str, redis_prefix: str, install: Install, running: Any
) -> None:
    env = install("hello", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hello")
    first = create_app(make_settings(database_url, redis_prefix=redis_prefix, **env))
    second = create_app(make_settings(database_url, redis_prefix=redis_prefix, **env))
    replicas = [_scheduler(first), _scheduler(second)]
    ran: list[tuple[int, Fire]] = []
    async with running(first) as one, running(second):
        admin = await admin_headers(first, one)
        # (minutes after START, which replicas tick): one sometimes lags a step behind, so its
        # next tick covers a fire time the other one already ran.
        steps = [
            *[(2, (0, 1)), (5, (0, 1)), (7.5, (0,)), (10, (0,)), (12, (0, 1))],
            *[(16, (1, 0)), (21, (1,)), (24, (0,)), (25, (0, 1))],
        ]
        for minutes, ticking in steps:
            done = await asyncio.gather(*(replicas[i].tick(_at(minutes)) for i in ticking))
            ran += [(i, fire) for i, fires in zip(ticking, done, strict=True) for fire in fires]
        times = sorted(fire.at for _, fire in ran)
        assert times == [_at(m) for m in (5, 10, 15, 20, 25)]  # each once, none twice
        assert {fire.schedule for _, fire in ran} == {"tick"}
        assert await _ticks(one, admin) == 5


async def test_a_failing_run_is_audited_and_the_next_one_still_runs(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    env = install("hello", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hello")
    manifest = Path(env["ENCLAVA_WASM_PLUGINS_DIRECTORY"]) / "hello" / "plugin.toml"
    manifest.write_text(manifest.read_text().replace("kv = true", "kv = false"))
    app: Litestar = create_app(make_settings(sqlite_url, **env))
    scheduler = _scheduler(app)
    async with running(app) as client:
        admin = await admin_headers(app, client)
        await scheduler.tick(START)
        for minutes in (5, 10):
            assert [fire.at for fire in await scheduler.tick(_at(minutes))] == [_at(minutes)]
        async with app.state.kernel.stores.db.session() as session:
            rows = await session.execute(
                text("SELECT outcome, details FROM audit_events WHERE action = :a"),
                {"a": "wasm_plugin.schedule"},
            )
            audited = [(outcome, json.loads(details)) for outcome, details in rows]
        assert audited == [
            ("failure", {"schedule": "tick", "fire_time": _at(m).isoformat(), "reason": "error"})
            for m in (5, 10)
        ]
        logs = (await client.get("/api-internal/v1/wasm-plugins/hello/logs", headers=admin)).json()
        assert "schedule failed (error)" in str(logs)


async def test_a_disabled_plugin_s_schedules_stop(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    env = install("hello", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hello")
    app: Litestar = create_app(make_settings(sqlite_url, **env))
    scheduler = _scheduler(app)
    async with running(app) as client:
        admin = await admin_headers(app, client)
        await scheduler.tick(START)
        assert len(await scheduler.tick(_at(5))) == 1
        await client.post("/api-internal/v1/wasm-plugins/hello/disable", headers=admin)
        assert await scheduler.tick(_at(10)) == []
        await client.post("/api-internal/v1/wasm-plugins/hello/enable", headers=admin)
        assert [fire.at for fire in await scheduler.tick(_at(15))] == [_at(15)]
        assert await _ticks(client, admin) == 2


async def test_a_stalled_replica_skips_fire_times_older_than_the_grace(
    make_settings: Any, sqlite_url: str, install: Install, running: Any
) -> None:
    env = install("hello", ENCLAVA_WASM_PLUGINS_AUTO_ENABLE="hello")
    app: Litestar = create_app(make_settings(sqlite_url, **env))
    scheduler = _scheduler(app)
    async with running(app):
        await scheduler.tick(START)
        # An hour stalled: only the last five minutes count; then the clock going back runs
        # nothing, and the next tick carries on from where the clock had been.
        assert [fire.at for fire in await scheduler.tick(_at(62))] == [_at(60)]
        assert await scheduler.tick(_at(30)) == []
        assert [fire.at for fire in await scheduler.tick(_at(66))] == [_at(65)]


def _zip(manifest: str, wasm: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin.toml", manifest)
        archive.writestr("plugin.wasm", wasm)
    return buffer.getvalue()


async def test_an_upload_with_a_bad_or_unmatched_schedule_is_refused(
    make_settings: Any, sqlite_url: str, install: Install, built: dict[str, Path], running: Any
) -> None:
    manifest = (built["hello"] / "plugin.toml").read_text()
    wasm = (built["hello"] / "plugin.wasm").read_bytes()
    app: Litestar = create_app(make_settings(sqlite_url, **install()))
    async with running(app) as client:
        admin = {**await admin_headers(app, client), "content-type": "application/zip"}
        upload = "/api-internal/v1/wasm-plugins"
        bad = _zip(manifest.replace("*/5 * * * *", "*/5 * * *"), wasm)
        refused = await client.post(upload, headers=admin, content=bad)
        assert refused.status_code == 400
        assert (
            "schedule 'tick': bad cron '*/5 * * *' (a cron expression has 5 fields"
            in (refused.json()["error"]["message"])
        )
        other = _zip(manifest.replace("*/5 * * * *", "0 * * * *"), wasm)
        refused = await client.post(upload, headers=admin, content=other)
        assert refused.status_code == 400
        assert (
            "schedule 'tick' runs at '*/5 * * * *' in the code, '0 * * * *' in plugin.toml"
            in (refused.json()["error"]["message"])
        )
