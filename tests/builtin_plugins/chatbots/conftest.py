"""Fixtures for chatbot tests: the gateway in front of both simulators (see chatbot_env)."""

from __future__ import annotations

from typing import Any

import pytest
from support.chatbots import Helpers
from support.gateway import Gateway, gateway_factory


def _without_rag(factory: Gateway) -> Gateway:
    def run(**options: Any) -> Any:
        return factory(**{"ENCLAVA_PLUGINS_DISABLED": "rag", **options})

    return run


@pytest.fixture
def helpers() -> Helpers:
    return Helpers()


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    """The rag plugin is disabled: the helpers' fake retriever stands in for it."""
    return _without_rag(gateway_factory(make_settings, sqlite_url))


@pytest.fixture
def gateway_on(make_settings: Any, database_url: str) -> Gateway:
    """The gateway on SQLite and on PostgreSQL."""
    return _without_rag(gateway_factory(make_settings, database_url))
