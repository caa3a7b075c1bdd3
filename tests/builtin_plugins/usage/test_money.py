"""Cost arithmetic: exact integers from Decimal prices and rates, rounded up once."""

from __future__ import annotations

from decimal import Decimal

from builtin_plugins.usage.money import (
    TEMPLATE_TOKENS,
    affordable_tokens,
    cost_micros,
    estimate_prompt_tokens,
    format_micros,
)
from kernel.upstream import ModelPrice

PRICE = ModelPrice(
    input_per_million=Decimal("0.1"), output_per_million=Decimal("0.49"), currency="USD"
)


def test_cost_is_exact_in_micro_units() -> None:
    # 1000 * 0.1 + 500 * 0.49 = 345 micro-USD; at 0.92 EUR per USD = 317.4 → 318
    assert cost_micros(PRICE, Decimal(1), prompt=1000, completion=500) == 345
    assert cost_micros(PRICE, Decimal("0.92"), prompt=1000, completion=500) == 318


def test_cost_rounds_up_only_a_fraction() -> None:
    tiny = ModelPrice(input_per_million=Decimal("0.04"), output_per_million=Decimal("0.1"))
    assert cost_micros(tiny, Decimal(1), prompt=1, completion=0) == 1
    assert cost_micros(tiny, Decimal(1), prompt=25, completion=0) == 1
    assert cost_micros(tiny, Decimal(1), prompt=26, completion=0) == 2
    assert cost_micros(tiny, Decimal(1), prompt=0, completion=0) == 0


def test_cost_has_no_float_drift_at_scale() -> None:
    price = ModelPrice(input_per_million=Decimal("3"), output_per_million=Decimal("15"))
    tokens = 10**12
    assert (
        cost_micros(price, Decimal("1.1"), prompt=tokens, completion=tokens) == 19_800_000_000_000
    )


def test_prompt_bound_counts_every_byte_and_the_template() -> None:
    assert estimate_prompt_tokens(b"") == TEMPLATE_TOKENS
    assert estimate_prompt_tokens(b"abcde") == 5 + TEMPLATE_TOKENS
    dense = "预算不能超支。".encode()  # 7 characters, 21 bytes; a BPE has at most 21 tokens here
    assert estimate_prompt_tokens(dense) == 21 + TEMPLATE_TOKENS


def test_affordable_tokens_are_the_most_that_fit() -> None:
    for rate in (Decimal(1), Decimal("0.92"), Decimal("0.3333")):
        for micros in (0, 1, 99, 345, 10_000):
            tokens = affordable_tokens(PRICE, rate, prompt=100, micros=micros)
            assert tokens is not None
            assert tokens == 0 or cost_micros(PRICE, rate, prompt=100, completion=tokens) <= micros
            assert cost_micros(PRICE, rate, prompt=100, completion=tokens + 1) > micros
    free = ModelPrice(input_per_million=Decimal("1"), output_per_million=Decimal(0))
    assert affordable_tokens(free, Decimal(1), prompt=10, micros=5) is None


def test_format() -> None:
    assert format_micros(1_234_567) == "1.234567"
    assert format_micros(5) == "0.000005"
    assert format_micros(-1_500_000) == "-1.500000"
