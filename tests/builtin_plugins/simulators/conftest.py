"""Fixtures for the simulator tests: OpenAI's published schema as a validator, SDK clients.

The schema validator comes from ``support.openai_schema``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from support.openai_schema import Validate, load_validator

from builtin_plugins.simulators.testing import SimulatorHandle


@pytest.fixture(scope="session")
def openai_schema() -> Validate:
    """``validate(schema_name, instance)`` against OpenAI's ``components.schemas``."""
    return load_validator()


ClientFactory = Callable[..., openai.AsyncOpenAI]


@pytest.fixture
def sdk() -> ClientFactory:
    """``sdk(sim, **options)``: the official async SDK pointed at ``sim``, no retries by default."""

    def make(sim: SimulatorHandle, **kwargs: Any) -> openai.AsyncOpenAI:
        options: dict[str, Any] = {
            "api_key": sim.api_key or "none",
            "max_retries": 0,
            "timeout": 10.0,
            **kwargs,
        }
        return openai.AsyncOpenAI(base_url=sim.base_url, **options)

    return make
