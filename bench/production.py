"""The production setup for the benches: PostgreSQL as SQL, Redis as KV, every builtin on.

``production_env`` gives ``enclava serve`` a throwaway database on ``--postgres`` (created here,
dropped with ``WITH (FORCE)`` when the stack closes) and a throwaway key prefix on ``--redis``
(every key under it deleted when the stack closes), Prometheus metrics on, prices for the mock's
model, the rate limiter on (limit far above what the bench sends). ``hard_budget`` then puts a
hard budget (period ``total``, a limit the bench never reaches) on the bench key through the
admin API, so every request reserves and settles on it. Attestation stays enabled; the mock is
Privatemode, which it reports as reachable without per-answer checks (nothing to verify).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import redis
from mock_upstream import MODEL
from servers import ADMIN_EMAIL, ADMIN_PASSWORD, enclava_env

__all__ = [
    "DEFAULT_POSTGRES",
    "DEFAULT_REDIS",
    "database",
    "hard_budget",
    "production_env",
    "redis_prefix",
]

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
METRICS_TOKEN = "bench-metrics-token-0123456789"
PRICES = {"privatemode": {MODEL: {"input": "0.2", "output": "0.8", "currency": "EUR"}}}
BUDGET_LIMIT_MICROS = 10**15


def database(dsn: str, stack: ExitStack, label: str = "bench") -> str:
    """A fresh database on ``dsn``'s server (dropped when ``stack`` closes); its asyncpg URL."""
    name = f"enclava_{label}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    stack.callback(lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def _delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        batch = list(client.scan_iter(match=prefix + "*", count=1000))
        while batch:
            client.delete(*batch[:500])
            batch = batch[500:]
    finally:
        client.close()


def redis_prefix(url: str, stack: ExitStack, label: str = "bench") -> str:
    """A fresh key prefix on ``url``; every key under it is deleted when ``stack`` closes."""
    prefix = f"enclava-{label}-{uuid.uuid4().hex[:8]}:"
    stack.callback(_delete_prefix, url, prefix)
    return prefix


def production_env(
    stack: ExitStack,
    data_dir: Path,
    upstream: str,
    *,
    postgres: str = DEFAULT_POSTGRES,
    redis_url: str = DEFAULT_REDIS,
    **extra: str,
) -> dict[str, str]:
    """Environment for ``enclava serve`` on PostgreSQL + Redis with metrics on."""
    settings = {
        "ENCLAVA_DATABASE_URL": database(postgres, stack),
        "ENCLAVA_REDIS_URL": redis_url,
        "ENCLAVA_REDIS_PREFIX": redis_prefix(redis_url, stack),
        "ENCLAVA_AUTH_JWT_SECRET": secrets.token_urlsafe(48),
        "ENCLAVA_METRICS_ENABLED": "true",
        "ENCLAVA_METRICS_TOKEN": METRICS_TOKEN,
        "ENCLAVA_USAGE_PRICES": json.dumps(PRICES),
    }
    return enclava_env(data_dir, upstream, **settings, **extra)


def _call(method: str, url: str, body: object | None = None, token: str = "") -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def hard_budget(base: str, api_key: str) -> str:
    """A hard ``total`` budget on the API key ``api_key`` of the server at ``base`` (its
    ``/api/v1`` URL), created by the bench admin; returns the budget id."""
    internal = base.removesuffix("/api/v1") + "/api-internal/v1"
    credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    login = _call("POST", internal + "/auth/login", credentials)
    assert isinstance(login, dict)
    token = str(login["access_token"])
    page = _call("GET", internal + "/api-keys?limit=100", token=token)
    assert isinstance(page, dict)
    keys = [k for k in page["data"] if api_key.startswith(str(k["prefix"]).rstrip("…."))]
    if len(keys) != 1:
        raise SystemExit(f"cannot tell the bench key's id from {page['data']!r}")
    budget = {
        "owner_type": "api_key",
        "owner_id": keys[0]["id"],
        "name": "bench-hard",
        "limit_micros": BUDGET_LIMIT_MICROS,
        "period": "total",
        "hard": True,
    }
    created = _call("POST", internal + "/budgets", budget, token=token)
    assert isinstance(created, dict)
    return str(created["budget"]["id"])
