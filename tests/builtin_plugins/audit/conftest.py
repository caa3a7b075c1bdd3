"""The real app on SQLite + memory KV and on PostgreSQL + Redis, with an admin to ask it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar

from kernel.app import create_app


@pytest.fixture(params=["sqlite+memory", "postgresql+redis"])
def make_app(
    request: pytest.FixtureRequest, make_settings: Any, redis_prefix: str
) -> Callable[..., Litestar]:
    """``make_app(**env)``: every builtin plugin on this test's stack."""
    if request.param == "sqlite+memory":
        url, prefix = str(request.getfixturevalue("sqlite_url")), None
    else:
        url, prefix = str(request.getfixturevalue("postgres_url")), redis_prefix

    def build(**env: str) -> Litestar:
        return create_app(make_settings(url, redis_prefix=prefix, **env))

    return build
