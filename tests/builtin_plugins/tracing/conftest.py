"""Fixture ``traced``: the gateway with tracing and an in-memory exporter (support.tracing)."""

from __future__ import annotations

from typing import Any

import pytest
from support.tracing import TracedGateway, traced_factory


@pytest.fixture
def traced(make_settings: Any, sqlite_url: str) -> TracedGateway:
    """``async with traced(tracing=True, extra=(plugins...), **ENCLAVA_env) as env``."""
    return traced_factory(make_settings, sqlite_url)
