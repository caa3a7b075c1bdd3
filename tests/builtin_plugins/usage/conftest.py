"""Fixture ``stack``: the usage plugin's full gateway on SQLite+memory and PostgreSQL+Redis;
``cluster_stack``: the same on PostgreSQL and a real three-master Redis Cluster."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from support.usage import Stack, stack_factory


@pytest.fixture(params=["sqlite+memory", "postgresql+redis"])
def stack(request: pytest.FixtureRequest, make_settings: Any) -> Stack:
    """``async with stack(replicas=1, **ENCLAVA_env) as env``."""
    sql = "sqlite_url" if request.param.startswith("sqlite") else "postgres_url"
    database_url = str(request.getfixturevalue(sql))
    prefix = request.getfixturevalue("redis_prefix") if request.param.endswith("redis") else None
    return stack_factory(make_settings, database_url, prefix)


@pytest.fixture
def cluster_stack(
    make_settings: Any, postgres_url: str, redis_cluster_url: str, redis_cluster_prefix: str
) -> Stack:
    """``async with cluster_stack(replicas=1, **ENCLAVA_env) as env`` on Redis Cluster."""
    run = stack_factory(make_settings, postgres_url, redis_cluster_prefix)
    return functools.partial(run, ENCLAVA_REDIS_URL=redis_cluster_url)
