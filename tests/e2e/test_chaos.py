"""Chaos: two ``enclava serve`` replicas on their own PostgreSQL and Redis, the Privatemode
simulator upstream, client tasks sending chats the whole time, while the test breaks things.

Faults, one after the other: Redis killed (restarted empty), PostgreSQL stopped and started, a
replica SIGKILLed (and started again), the upstream flapping between 503 and healthy, the upstream
stalling. What must hold throughout:

* no 500, ever; every 503 carries ``Retry-After``;
* after a store returns, both replicas answer 200 again within ``RECOVERY_LIMIT_S``;
* every answered chat has its usage record in SQL, except those the SIGKILLed replica answered in
  its last flush interval (plus one insert) before the kill;
* the hard budget of the budget key is not overspent in SQL;
* no request is held past the request deadline (plus transport slack).

The table of requests, statuses and recovery times per phase is printed and written to
``$CHAOS_TABLE`` when set; ``$CHAOS_LOGS`` (a folder) keeps the processes' logs.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from support.chaos import ENCLAVA, Postgres, Redis, Replica, simulator
from support.chaos_load import Load, breakdown, render_table

from builtin_plugins.simulators.keys import TEST_API_KEY

MODEL = "gpt-oss-120b"
DEADLINE_S = 4.0
FLUSH_S = 0.5
RECOVERY_LIMIT_S = 2.0
ADMIN = ("chaos@example.com", "chaos-password-1234!")
PRICES = '{"privatemode": {"gpt-oss-120b": {"input": "20", "output": "80", "currency": "EUR"}}}'
BUDGET_MICROS = 20_000
KILL = "replica r1 SIGKILL"
PG_STOP = "postgresql stopped"
MAX_DROPPED_DURING_PG_STOP = 3


def _env(pg: Postgres, redis: Redis, simulator_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVA_")}
    return env | {
        "ENCLAVA_DATABASE_URL": pg.url,
        "ENCLAVA_REDIS_URL": redis.url,
        "ENCLAVA_AUTH_JWT_SECRET": secrets.token_urlsafe(48),
        "ENCLAVA_API_KEYS_PEPPER": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ENCLAVA_SERVER_LOG_LEVEL": "warning",
        "ENCLAVA_PLUGINS_RESYNC_SECONDS": "3600",
        "ENCLAVA_PRIVATEMODE_ENABLED": "true",
        "ENCLAVA_PRIVATEMODE_URL": f"{simulator_url}/v1",
        "ENCLAVA_PRIVATEMODE_API_KEY": TEST_API_KEY,
        "ENCLAVA_PRIVATEMODE_CONNECT_TIMEOUT": "0.5",
        "ENCLAVA_PRIVATEMODE_READ_TIMEOUT": "1.5",
        "ENCLAVA_PRIVATEMODE_FIRST_BYTE_TIMEOUT": "1.5",
        "ENCLAVA_PRIVATEMODE_IDLE_CHUNK_TIMEOUT": "1",
        "ENCLAVA_REDPILL_ENABLED": "false",
        "ENCLAVA_LLM_REQUEST_DEADLINE_SECONDS": str(DEADLINE_S),
        "ENCLAVA_LLM_BACKOFF_INITIAL_SECONDS": "0.05",
        "ENCLAVA_LLM_BACKOFF_MAX_SECONDS": "0.2",
        "ENCLAVA_LLM_CIRCUIT_COOLDOWN_SECONDS": "1",
        "ENCLAVA_LLM_CIRCUIT_WINDOW_SECONDS": "2",
        "ENCLAVA_USAGE_FLUSH_INTERVAL_SECONDS": str(FLUSH_S),
        "ENCLAVA_USAGE_PRICES": PRICES,
        "ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE": "10000000",
        "ENCLAVA_RATE_LIMIT_INTERNAL_PER_MINUTE": "10000000",
    }


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [ENCLAVA, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"enclava {args}: {done.stdout} {done.stderr}"
    return done.stdout


def _ready(key: str) -> Any:
    def check(base: str) -> bool:
        listing = httpx.get(
            f"{base}/api/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=1
        )
        return listing.status_code == 200 and MODEL in listing.text

    return check


def _setup_keys(base: str) -> dict[str, tuple[str, str]]:
    """Keys ``r0``/``r1`` (one per replica) and ``budget`` (both, hard total budget): name ->
    (key, key id), made through the internal API by the admin the CLI created."""
    with httpx.Client(base_url=f"{base}/api-internal/v1", timeout=10) as client:
        login = client.post("/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        assert login.status_code == 200, login.text
        client.headers["authorization"] = f"Bearer {login.json()['access_token']}"
        keys = {}
        for name in ("r0", "r1", "budget"):
            made = client.post("/api-keys", json={"name": name})
            assert made.status_code == 201, made.text
            keys[name] = (made.json()["key"], made.json()["id"])
        budget = {
            "owner_type": "api_key",
            "owner_id": keys["budget"][1],
            "name": "chaos",
            "limit_micros": BUDGET_MICROS,
            "period": "total",
            "hard": True,
        }
        made = client.post("/budgets", json=budget)
        assert made.status_code == 201, made.text
    return keys


async def _records(dsn: str) -> tuple[set[str], dict[str, int]]:
    """Request ids with a usage record, and settled spend per key id, from SQL."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT request_id, key_id, cost_micros FROM usage_records")
    finally:
        await conn.close()
    spend: dict[str, int] = {}
    for row in rows:
        spend[row["key_id"]] = spend.get(row["key_id"], 0) + row["cost_micros"]
    return {row["request_id"] for row in rows}, spend


@pytest.fixture
def root() -> Iterator[Path]:
    """Outside /root and world-traversable: the postgres user must reach its data dir."""
    with tempfile.TemporaryDirectory(prefix="enclava-chaos-") as name:
        os.chmod(name, 0o755)
        yield Path(name)


@pytest.mark.slow
def test_chaos_two_replicas_survive_store_replica_and_upstream_faults(root: Path) -> None:
    with ExitStack() as stack:
        pg, redis = Postgres(root), Redis(root)
        pg.start()
        stack.callback(pg.stop, "immediate")
        redis.start()
        stack.callback(redis.kill)
        sim = simulator(stack, root)
        env = _env(pg, redis, sim)
        _cli(env, "migrate")
        _cli(env, "admin", "create", "--email", ADMIN[0], "--password-stdin", stdin=ADMIN[1])
        replicas = [Replica(f"r{i}", root, env) for i in range(2)]
        for replica in replicas:
            stack.callback(replica.terminate)
        replicas[0].start(lambda base: httpx.get(f"{base}/health/ready").status_code == 200)
        keys = _setup_keys(replicas[0].base)
        for replica in replicas:
            replica.kill()
            replica.start(_ready(keys["r0"][0]))
        report = asyncio.run(_run_faults(replicas, keys, pg, redis, sim))
        for replica in replicas:
            replica.terminate()  # flushes what the live replicas buffered
        recorded, spend = asyncio.run(_records(pg.dsn))
        if keep := os.environ.get("CHAOS_LOGS"):
            for log in root.glob("*.log"):
                shutil.copy(log, Path(keep) / log.name)
    answered = {r.request_id for r in report.results if r.status == 200}
    table = render_table(report.phases) + (
        f"\nanswered chats {len(answered)}, without a usage record {len(answered - recorded)}"
        f" (killed replica's last flush window); budget key spend in SQL"
        f" {spend.get(keys['budget'][1], 0)} of {BUDGET_MICROS} micros (hard)"
    )
    print("\n" + table + "\n" + breakdown(report.results))
    if out := os.environ.get("CHAOS_TABLE"):
        Path(out).write_text(table + "\n")
    _assert_report(report, recorded, spend, keys)


async def _run_faults(
    replicas: list[Replica], keys: dict[str, tuple[str, str]], pg: Postgres, redis: Redis, sim: str
) -> Load:
    load = Load([r.base for r in replicas], keys, MODEL, deadline=DEADLINE_S)
    async with load.running(), httpx.AsyncClient(base_url=sim, timeout=5) as control:
        await load.phase("baseline", seconds=3)

        async with load.fault("redis killed", down_seconds=3) as fault:
            await asyncio.to_thread(redis.kill)
            await fault.down()
            await asyncio.to_thread(redis.start)
        async with load.fault(PG_STOP, down_seconds=3) as fault:
            await asyncio.to_thread(pg.stop)
            await fault.down()
            await asyncio.to_thread(pg.start)
        async with load.fault(KILL, down_seconds=1, store=False) as fault:
            fault.mark_kill("r1")
            await asyncio.to_thread(replicas[1].kill)
            await fault.down()
            await asyncio.to_thread(replicas[1].start, _ready(keys["r0"][0]))
        async with load.fault("upstream flapping", down_seconds=0, store=False) as fault:
            for _ in range(6):
                await control.post("/_sim/faults", json={"status": 503, "paths": ["/v1/chat"]})
                await asyncio.sleep(0.5)
                await control.delete("/_sim/faults")
                await asyncio.sleep(0.5)
        async with load.fault("upstream stall 5 s", down_seconds=0, store=False) as fault:
            await control.post("/_sim/faults", json={"stall_after": 0, "paths": ["/v1/chat"]})
            await asyncio.sleep(5)
            await control.delete("/_sim/faults")
        await load.phase("after", seconds=3)
    return load


def _assert_report(
    report: Load, recorded: set[str], spend: dict[str, int], keys: dict[str, tuple[str, str]]
) -> None:
    results = report.results
    assert [r for r in results if r.status == 500] == []
    assert [r for r in results if r.status == 503 and not r.retry_after] == []
    for phase in report.phases:
        if phase.store:
            assert phase.recovery is not None, f"{phase.name}: never recovered"
            assert phase.recovery <= RECOVERY_LIMIT_S, f"{phase.name}: {phase.recovery:.2f} s"
    dropped = [r for r in results if r.status == 0 and not (r.phase == KILL and r.replica == 1)]
    # Open defect (issue #20 follow-up): while PostgreSQL stops, a replica occasionally resets
    # one client connection without an answer or a log line; bounded here, never a 500.
    assert {r.phase for r in dropped} <= {PG_STOP}, dropped
    assert len(dropped) <= MAX_DROPPED_DURING_PG_STOP, dropped
    slowest = max(r.latency for r in results)
    assert slowest <= DEADLINE_S + 1.0, f"a request was held {slowest:.1f} s"
    answered = {r.request_id: r for r in results if r.status == 200}
    lost = [r for rid, r in answered.items() if rid not in recorded]
    kill = report.kill_time.get("r1")
    allowed = [r for r in lost if r.replica == 1 and kill and kill - r.ended <= 2 * FLUSH_S + 0.5]
    assert len(lost) == len(allowed), f"{len(lost) - len(allowed)} answered requests unrecorded"
    assert spend.get(keys["budget"][1], 0) <= BUDGET_MICROS, spend
    assert sum(1 for r in results if r.status == 402) > 0, "the budget key was never refused"
