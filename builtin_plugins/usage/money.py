"""Exact cost arithmetic in integer micro-units, and the local prompt-size estimate.

A price is ``currency`` units per million tokens, so ``tokens * price`` is already in millionths
of ``currency``; the conversion rate turns that into millionths of the accounting currency.
Everything is Decimal with 60 digits of precision and one rounding at the end, up to the next
whole micro-unit (a call is never cheaper than its exact cost). No floats anywhere.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, localcontext

from kernel.types import ModelPrice

__all__ = ["cost_micros", "estimate_prompt_tokens", "format_micros"]

_PRECISION = 60


def cost_micros(price: ModelPrice, rate: Decimal, *, prompt: int, completion: int) -> int:
    """``ceil((prompt * input + completion * output) * rate)`` in accounting micro-units."""
    with localcontext() as context:
        context.prec = _PRECISION
        exact = (
            Decimal(prompt) * price.input_per_million
            + Decimal(completion) * price.output_per_million
        ) * rate
        return int(exact.to_integral_value(rounding=ROUND_CEILING))


def estimate_prompt_tokens(body: bytes) -> int:
    """An upper-leaning token count for a request body: one token per 4 bytes, rounded up.

    Counted over the whole JSON body (structure included), which over-counts the messages a
    little: a reservation may hold slightly more than the prompt costs, never much less for
    ordinary text (BPE tokenisers average about 4 bytes per token on English).
    """
    return (len(body) + 3) // 4


def format_micros(micros: int) -> str:
    """``1234567`` → ``"1.234567"``: micro-units as a decimal string of the currency."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), 1_000_000)
    return f"{sign}{whole}.{fraction:06d}"
