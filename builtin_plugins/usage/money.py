"""Exact cost arithmetic in integer micro-units, and the local bound of a prompt's tokens.

A price is ``currency`` units per million tokens, so ``tokens * price`` is already in millionths
of ``currency``; the conversion rate turns that into millionths of the accounting currency.
Everything is Decimal with 60 digits of precision and one rounding at the end, up to the next
whole micro-unit (a call is never cheaper than its exact cost). No floats anywhere.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from kernel.upstream import ModelPrice

__all__ = [
    "TEMPLATE_TOKENS",
    "affordable_tokens",
    "cost_micros",
    "estimate_prompt_tokens",
    "format_micros",
]

_PRECISION = 60
TEMPLATE_TOKENS = 128
"""Tokens a chat template may add once per prompt beyond the request's own bytes."""


def cost_micros(price: ModelPrice, rate: Decimal, *, prompt: int, completion: int) -> int:
    """``ceil((prompt * input + completion * output) * rate)`` in accounting micro-units."""
    with localcontext() as context:
        context.prec = _PRECISION
        exact = (
            Decimal(prompt) * price.input_per_million
            + Decimal(completion) * price.output_per_million
        ) * rate
        return int(exact.to_integral_value(rounding=ROUND_CEILING))


def affordable_tokens(price: ModelPrice, rate: Decimal, *, prompt: int, micros: int) -> int | None:
    """The most completion tokens that, after ``prompt`` tokens, cost at most ``micros``
    (0 when the prompt alone costs more); None when output is free."""
    with localcontext() as context:
        context.prec = _PRECISION
        per_token = price.output_per_million * rate
        if per_token <= 0:
            return None
        room = Decimal(micros) - Decimal(prompt) * price.input_per_million * rate
        tokens = max(0, int((room / per_token).to_integral_value(rounding=ROUND_FLOOR)))
    while tokens and cost_micros(price, rate, prompt=prompt, completion=tokens) > micros:
        tokens -= 1  # the division rounded up in its 60th digit
    return tokens


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
