"""Fixtures for the gateway tests: see support.gateway."""

from __future__ import annotations

from typing import Any

import pytest
from support.gateway import Gateway, gateway_factory
from support.openai_schema import Validate, load_validator


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    """``async with gateway(trust=True, **ENCLAVA_env) as env``: the app served on loopback."""
    return gateway_factory(make_settings, sqlite_url)


@pytest.fixture(scope="session")
def openai_schema() -> Validate:
    return load_validator()
