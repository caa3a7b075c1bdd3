"""Fixtures for the metrics tests: the gateway of support.gateway with metrics enabled."""

from __future__ import annotations

from typing import Any

import pytest
from support.gateway import Gateway, gateway_factory


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    """``async with gateway(**ENCLAVA_env) as env``: the app served on loopback."""
    return gateway_factory(make_settings, sqlite_url)
