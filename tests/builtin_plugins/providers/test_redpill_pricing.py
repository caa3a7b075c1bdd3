"""RedPill list prices (USD per token, strings) become exact per-million ``ModelInfo.pricing``."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from builtin_plugins.providers.redpill import _Entry, _price
from builtin_plugins.simulators.redpill_models import CATALOG
from kernel.upstream import ModelPrice


def _entry(pricing: object) -> _Entry:
    return msgspec.convert({"id": "m", "pricing": pricing}, _Entry)


def test_catalog_prices_convert_exactly() -> None:
    entry = msgspec.convert(CATALOG[0].entry(), _Entry)
    assert _price(entry) == ModelPrice(
        input_per_million=Decimal("0.04"), output_per_million=Decimal("0.1"), currency="USD"
    )
    assert _price(_entry({"prompt": 0.0000025, "completion": "0"})) == ModelPrice(
        input_per_million=Decimal("2.5"), output_per_million=Decimal("0"), currency="USD"
    )


@pytest.mark.parametrize(
    "pricing",
    [
        None,
        {},
        {"prompt": "0.1"},
        {"prompt": "free", "completion": "0"},
        {"prompt": "-1", "completion": "0"},
        {"prompt": "NaN", "completion": "0"},
    ],
)
def test_missing_or_bad_prices_are_unknown(pricing: object) -> None:
    assert _price(_entry(pricing)) is None
