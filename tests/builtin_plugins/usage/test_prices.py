"""The price book: admin overrides, listed and discovered prices, settings, history, estimate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec

from builtin_plugins.usage.prices import PriceBook, PriceRow
from builtin_plugins.usage.settings import PriceSetting, UsageSettings
from kernel.upstream import ModelPrice

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TARGET = ("redpill", "phala/gpt-oss-120b")


def _price(inp: str, out: str, currency: str = "USD") -> ModelPrice:
    return ModelPrice(
        input_per_million=Decimal(inp), output_per_million=Decimal(out), currency=currency
    )


def _row(row_id: int, source: str, at: datetime, price: ModelPrice | None) -> PriceRow:
    return PriceRow(
        id=row_id,
        provider=TARGET[0],
        model=TARGET[1],
        input_per_million=price and price.input_per_million,
        output_per_million=price and price.output_per_million,
        currency=price and price.currency,
        source=source,
        effective_from=at,
        created_at=at,
    )


SETTINGS = UsageSettings(
    currency="EUR",
    conversion_rates={"USD": Decimal("0.5")},
    prices={"privatemode": {"gpt-oss-120b": PriceSetting(input=Decimal(1), output=Decimal(2))}},
)


def test_resolution_order_and_history() -> None:
    rows = [
        _row(1, "discovery", T0, _price("0.1", "0.49")),
        _row(2, "admin", T0 + timedelta(days=2), _price("5", "5")),
        _row(3, "admin", T0 + timedelta(days=4), None),
        _row(4, "discovery", T0 + timedelta(days=5), _price("0.2", "0.6")),
    ]
    book = PriceBook(rows, SETTINGS)
    assert book.quote(TARGET, T0 - timedelta(days=1)) is None
    assert book.quote(TARGET, T0 + timedelta(days=1)).source == "discovery"  # type: ignore[union-attr]
    override = book.quote(TARGET, T0 + timedelta(days=3), listed=_price("9", "9"))
    assert override is not None
    assert override.price == _price("5", "5")
    ended = book.quote(TARGET, T0 + timedelta(days=4, hours=1))
    assert ended is not None
    assert ended.price == _price("0.1", "0.49")
    listed = book.quote(TARGET, T0 + timedelta(days=6), listed=_price("0.3", "0.7"))
    assert listed is not None
    assert listed.price == _price("0.3", "0.7")
    assert [r.id for r in book.history(TARGET)] == [1, 2, 3, 4]
    configured = book.quote(("privatemode", "gpt-oss-120b"), T0)
    assert configured is not None
    assert configured.source == "settings"


def test_cost_converts_and_refuses_unknown_currencies() -> None:
    book = PriceBook((), SETTINGS)
    assert book.cost(_price("0.1", "0.49"), prompt=1000, completion=500) == 173  # 172.5 up
    assert book.cost(_price("1", "1", "GBP"), prompt=1, completion=1) is None


def test_estimate_takes_the_dearest_provider() -> None:
    catalog = {
        "gpt-oss-120b": [
            (("privatemode", "gpt-oss-120b"), None),
            (TARGET, _price("10", "10")),
        ],
        "unpriced": [(("privatemode", "unpriced"), None)],
    }
    book = PriceBook((), SETTINGS, catalog)
    # privatemode: 100 * 1 + 10 * 2 = 120 EUR-µ; redpill: 110 * 10 * 0.5 = 550
    assert book.estimate("gpt-oss-120b", T0, prompt=100, completion=10) == 550
    assert book.estimate("unpriced", T0, prompt=100, completion=10) is None
    cheaper = msgspec.structs.replace(SETTINGS, conversion_rates={"USD": Decimal("0.01")})
    assert (
        book.with_settings(cheaper).estimate("gpt-oss-120b", T0, prompt=100, completion=10) == 120
    )


def test_affordable_is_what_the_dearest_provider_leaves() -> None:
    catalog = {
        "gpt-oss-120b": [
            (("privatemode", "gpt-oss-120b"), None),
            (TARGET, _price("10", "10")),
        ],
        "unpriced": [(("privatemode", "unpriced"), None)],
    }
    book = PriceBook((), SETTINGS, catalog)
    # redpill: (1000 - 10 * 10 * 0.5) / (10 * 0.5) = 190; privatemode: (1000 - 10) / 2 = 495
    assert book.affordable("gpt-oss-120b", T0, prompt=10, micros=1000) == 190
    assert book.estimate("gpt-oss-120b", T0, prompt=10, completion=190) == 1000
    assert book.affordable("gpt-oss-120b", T0, prompt=10_000, micros=1000) == 0
    assert book.affordable("unpriced", T0, prompt=10, micros=1000) is None
