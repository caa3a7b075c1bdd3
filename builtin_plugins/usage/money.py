"""Exact cost arithmetic in integer micro-units, and the local bound of a prompt's tokens.

A price is ``currency`` units per million tokens, so ``tokens * price`` is already in millionths
of ``currency``; the conversion rate turns that into millionths of the accounting currency.
Prices and rates are Decimals; the arithmetic runs exactly on their integer ratios, with one
rounding at the end: up to the next whole micro-unit for a cost (a call is never cheaper than
its exact cost), down to a whole token for what a budget affords. No floats anywhere.
"""

from __future__ import annotations

from decimal import Decimal

from kernel.upstream import ModelPrice

__all__ = [
    "TEMPLATE_TOKENS",
    "affordable_tokens",
    "cost_micros",
    "estimate_prompt_tokens",
    "format_micros",
]

TEMPLATE_TOKENS = 128
"""Tokens a chat template may add once per prompt beyond the request's own bytes."""


def cost_micros(price: ModelPrice, rate: Decimal, *, prompt: int, completion: int) -> int:
    """``ceil((prompt * input + completion * output) * rate)`` in accounting micro-units."""
    in_n, in_d = price.input_per_million.as_integer_ratio()
    out_n, out_d = price.output_per_million.as_integer_ratio()
    rate_n, rate_d = rate.as_integer_ratio()
    exact_n = (prompt * in_n * out_d + completion * out_n * in_d) * rate_n
    return -(-exact_n // (in_d * out_d * rate_d))


def affordable_tokens(price: ModelPrice, rate: Decimal, *, prompt: int, micros: int) -> int | None:
    """The most completion tokens that, after ``prompt`` tokens, cost at most ``micros``
    (0 when the prompt alone costs more); None when output is free."""
    in_n, in_d = price.input_per_million.as_integer_ratio()
    out_n, out_d = price.output_per_million.as_integer_ratio()
    rate_n, rate_d = rate.as_integer_ratio()
    if out_n * rate_n <= 0:
        return None
    # tokens * out * rate <= micros - prompt * in * rate, all over the common denominator
    room_n = (micros * in_d * rate_d - prompt * in_n * rate_n) * out_d
    return max(0, room_n // (in_d * out_n * rate_n))


def estimate_prompt_tokens(body: bytes) -> int:
    """A token count the prompt of ``body`` cannot exceed: one token per byte of the request,
    plus :data:`TEMPLATE_TOKENS`.

    Why it cannot undercount without knowing the model's tokenizer: the models served here use
    byte-level BPE (GPT-2/tiktoken style: gpt-oss, Llama 3, Qwen) or SentencePiece with byte
    fallback (Gemma, Mistral). Every token of either covers at least one byte of the UTF-8 text,
    so a text has at most as many tokens as bytes (SentencePiece may add one dummy-prefix ``▁``
    per text segment). The JSON body holds every prompt string in at least its UTF-8 bytes
    (escapes only lengthen it), plus per message at least the 29 bytes of
    ``{"role":"user","content":""}``, more than the markers a chat template wraps a message in
    and that dummy prefix; what a template adds once per prompt (gpt-oss's harmony system
    preamble, about 60 tokens; Llama 3's date lines) is :data:`TEMPLATE_TOKENS`. Bytes / 4 (the
    English average) undercounts dense scripts: CJK is 3 bytes a character, often a token each.
    """
    return len(body) + TEMPLATE_TOKENS


def format_micros(micros: int) -> str:
    """``1234567`` → ``"1.234567"``: micro-units as a decimal string of the currency."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), 1_000_000)
    return f"{sign}{whole}.{fraction:06d}"
