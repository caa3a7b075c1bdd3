"""The record writer on SQLite and PostgreSQL: batches, back-pressure, sinks, shutdown flush."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from builtin_plugins.usage import recorder as recorder_module
from builtin_plugins.usage.models import usage_records
from builtin_plugins.usage.recorder import UsageRecorder
from kernel.exchange import UsageRecord
from kernel.storage import migrate
from kernel.storage.sql import Database, open_database

VERSIONS = str(Path(__file__).parents[3] / "builtin_plugins" / "usage" / "migrations" / "versions")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(make_url(database_url))
    await migrate.upgrade(database, [VERSIONS])
    yield database
    await database.close()


def _record(index: int) -> UsageRecord:
    return UsageRecord(
        request_id=f"req_{index}",
        created_at=datetime(2026, 11, 27, 23, 30, tzinfo=UTC),
        kind="chat",
        user_id="u1",
        key_id="k1",
        model="m",
        prompt_tokens=index,
        cost_micros=index,
        currency="EUR",
        status=200,
    )


class Sink:
    name = "test.sink"

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    async def write(self, records: Sequence[UsageRecord]) -> None:
        self.batches.append([r.request_id for r in records])
        if self.fail:
            raise RuntimeError("sink down")


async def _stored(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(usage_records.c.request_id, usage_records.c.day).order_by(usage_records.c.id)
        )
        return [(r[0], r[1]) for r in rows]


def _recorder(db: Database, sinks: list[Sink], **options: int | float) -> UsageRecorder:
    values = {"interval": 0.01, "batch_size": 3, "queue_size": 4, **options}
    return UsageRecorder(
        db,
        zone=ZoneInfo("Europe/Berlin"),
        interval=float(values["interval"]),
        batch_size=int(values["batch_size"]),
        queue_size=int(values["queue_size"]),
        sinks=lambda: sinks,
    )


async def test_batches_are_stored_then_forwarded(db: Database) -> None:
    good, bad = Sink(), Sink(fail=True)
    recorder = _recorder(db, [bad, good], queue_size=10, interval=60)
    recorder.start()
    for index in range(7):
        await recorder.put(_record(index))
    await recorder.stop()  # long before the interval: shutdown writes what is queued
    stored = await _stored(db)
    assert [r for r, _ in stored] == [f"req_{i}" for i in range(7)]
    assert {day for _, day in stored} == {"2026-11-28"}  # the local date in Berlin
    assert [len(b) for b in good.batches] == [3, 3, 1]
    assert good.batches == bad.batches  # a failing sink neither loses records nor stops others


async def test_full_queue_makes_callers_wait(db: Database) -> None:
    recorder = _recorder(db, [])  # not started: nothing drains the queue
    for index in range(4):
        await recorder.put(_record(index))
    blocked = asyncio.create_task(recorder.put(_record(4)))
    await asyncio.sleep(0)
    assert not blocked.done()
    assert recorder.pending == 4
    await recorder.flush()
    await blocked
    await recorder.flush()
    assert len(await _stored(db)) == 5


async def test_writer_flushes_every_interval(db: Database) -> None:
    recorder = _recorder(db, [], interval=0.01)
    recorder.start()
    try:
        await recorder.put(_record(1))
        for _ in range(500):
            if await _stored(db):
                break
            await asyncio.sleep(0.01)
        assert [r for r, _ in await _stored(db)] == ["req_1"]
        assert recorder.pending == 0
    finally:
        await recorder.stop()


async def test_failed_insert_keeps_records(tmp_path: Path) -> None:
    unmigrated = open_database(make_url(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    recorder = _recorder(unmigrated, [])
    await recorder.put(_record(1))
    with pytest.raises(OperationalError):  # no usage_records table
        await recorder.flush()
    assert recorder.pending == 1  # still held for the next attempt
    await unmigrated.close()


async def test_backoff_ends_when_the_database_reconnects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Records of an outage are stored once the pool reconnects, not after the next backoff step."""
    monkeypatch.setattr(recorder_module, "_BACKOFF_MIN", 3600.0)  # only a reconnect ends the wait
    database = open_database(make_url(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}"))
    recorder = _recorder(database, [])
    recorder.start()
    try:
        await recorder.put(_record(1))
        for _ in range(3000):  # no table yet: the first insert fails
            if "retrying in 3600.0s" in caplog.text:
                break
            await asyncio.sleep(0.01)
        await migrate.upgrade(database, [VERSIONS])
        await database.engine.dispose()
        await database.ping()  # a new pool connection, as a readiness probe makes after an outage
        for _ in range(3000):
            if not recorder.pending:
                break
            await asyncio.sleep(0.01)
        assert [r for r, _ in await _stored(database)] == ["req_1"]
    finally:
        await recorder.stop()
        await database.close()
