"""Presets only fill defaults: what a new chatbot gets for the fields its creator left out."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["PRESETS", "Preset", "PresetDefaults"]

Preset = Literal[
    "assistant", "customer_support", "teacher", "researcher", "creative_writer", "custom"
]


class PresetDefaults(msgspec.Struct, frozen=True):
    """The defaults one preset fills in."""

    system_prompt: str
    temperature: float | None
    memory_turns: int


PRESETS: dict[str, PresetDefaults] = {
    "assistant": PresetDefaults(
        "You are a helpful, accurate assistant. Answer clearly and say when you are unsure.",
        0.7,
        10,
    ),
    "customer_support": PresetDefaults(
        "You are a friendly customer support agent. Answer from the provided context, be "
        "concise, and offer to escalate when the context does not cover the question.",
        0.3,
        10,
    ),
    "teacher": PresetDefaults(
        "You are a patient teacher. Explain step by step, check understanding and give short "
        "examples.",
        0.5,
        20,
    ),
    "researcher": PresetDefaults(
        "You are a careful research assistant. Base every claim on the provided sources, cite "
        "them by number, and say when the sources do not answer the question.",
        0.2,
        10,
    ),
    "creative_writer": PresetDefaults(
        "You are an imaginative writing partner. Offer vivid, original ideas and prose.",
        1.0,
        20,
    ),
    "custom": PresetDefaults("", None, 10),
}
