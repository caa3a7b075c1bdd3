"""The ``[chatbots]`` settings section (``ENCLAVA_CHATBOTS_*``) and the message key.

Conversation messages are sealed with AES-256-GCM under ``key`` (base64 of 32 bytes). Every
replica must use the same key: set it on each, or share ``data_dir`` so they all read the one
generated into ``<data_dir>/secrets/chatbots.key``. Losing it makes stored messages unreadable.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from kernel.errors import ConfigError
from kernel.secrets import decode_key, ensure_secret

__all__ = ["KEY_FILE", "SETTINGS_SECTION", "ChatbotsSettings", "load_key"]

SETTINGS_SECTION = "chatbots"
KEY_FILE = "chatbots.key"  # the secret's file name, not a secret


class ChatbotsSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Conversation retention, the message key and the prompt budget."""

    retention_days: int = 90
    """Conversations idle longer than this are deleted by a background task; 0 keeps them."""
    key: str = ""
    """Base64 of 32 bytes sealing messages; empty: generated once under the data dir."""
    context_tokens: int = 8192
    """Prompt budget for a model that does not report its context length."""

    def __post_init__(self) -> None:
        if self.retention_days < 0:
            raise ValueError("retention_days must not be negative")
        if self.context_tokens < 256:
            raise ValueError("context_tokens must be at least 256")
        if self.key:
            try:
                decode_key(self.key)
            except ConfigError as exc:
                raise ValueError(f"key: {exc}") from None


def load_key(settings: ChatbotsSettings, data_dir: Path) -> bytes:
    """The configured message key, or the one generated once under ``data_dir``."""
    if settings.key:
        return decode_key(settings.key)
    return ensure_secret(data_dir, KEY_FILE)
