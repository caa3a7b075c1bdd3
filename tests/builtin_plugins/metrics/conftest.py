"""Fixtures for the metrics tests: the gateway of support.gateway, and the usage stack (both
storage setups) for budgets."""

from __future__ import annotations

from typing import Any

import pytest
from support.gateway import Gateway, gateway_factory
from support.usage import stack

__all__ = ["stack"]


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    """``async with gateway(**ENCLAVA_env) as env``: the app served on loopback."""
    return gateway_factory(make_settings, sqlite_url)
