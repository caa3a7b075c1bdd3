"""The gateway side of a plugin's ``llm-chat`` call, apart from :mod:`imports` (which loads
wasmtime), so the gateway can build a plugin's chat callable without loading the sandbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

__all__ = ["LlmChat", "LlmRefused"]

LlmChat = Callable[[str, bytes], Awaitable[bytes]]
"""``(plugin name, OpenAI chat request) -> answer bytes``; raises :class:`LlmRefused`."""


class LlmRefused(Exception):
    """The gateway refused or failed a plugin's chat call; the message is for the plugin."""
