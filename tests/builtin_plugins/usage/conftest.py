"""Fixture ``stack``: the usage plugin's full gateway on SQLite+memory and PostgreSQL+Redis."""

from __future__ import annotations

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
