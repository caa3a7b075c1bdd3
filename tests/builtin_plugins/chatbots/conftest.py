"""Fixtures for chatbot tests: the gateway in front of both simulators (see chatbot_env)."""

from __future__ import annotations

from typing import Any

import pytest
from support.chatbots import Helpers
from support.gateway import Gateway, gateway_factory

STACKS = ["sqlite+memory", "postgresql+redis"]
"""The two storage setups: embedded, and PostgreSQL with Redis."""


def _without_rag(factory: Gateway) -> Gateway:
    def run(**options: Any) -> Any:
        return factory(**{"ENCLAVA_PLUGINS_DISABLED": "rag", **options})

    return run


def _on_stack(request: pytest.FixtureRequest, make_settings: Any) -> Gateway:
    sql = "sqlite_url" if request.param.startswith("sqlite") else "postgres_url"
    prefix = request.getfixturevalue("redis_prefix") if request.param.endswith("redis") else None
    database_url = str(request.getfixturevalue(sql))
    return gateway_factory(make_settings, database_url, redis_prefix=prefix)


@pytest.fixture
def helpers() -> Helpers:
    return Helpers()


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    """The rag plugin is disabled: the helpers' fake retriever stands in for it."""
    return _without_rag(gateway_factory(make_settings, sqlite_url))


@pytest.fixture(params=STACKS)
def gateway_on(request: pytest.FixtureRequest, make_settings: Any) -> Gateway:
    """The gateway (rag disabled) on SQLite with the in-process KV and on PostgreSQL with Redis."""
    return _without_rag(_on_stack(request, make_settings))


@pytest.fixture(params=STACKS)
def gateway_rag_on(request: pytest.FixtureRequest, make_settings: Any) -> Gateway:
    """The gateway with the real rag plugin (local embeddings), on both storage setups."""
    return _on_stack(request, make_settings)
