"""The ``[privatemode]`` and ``[redpill]`` settings sections: one schema, two sets of defaults.

Every field is enforced: the URL and credentials by the adapter, the timeouts on every call,
``priority``, ``region``, ``max_retries`` and ``requests_per_minute`` by the router, the
allowlist and aliases by model discovery, which runs every ``discovery_interval_seconds``.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from kernel.errors import ConfigError

__all__ = ["PrivatemodeSettings", "ProviderSettings", "RedPillSettings", "read_api_key"]

_REGION = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_TIMEOUTS = ("connect_timeout", "read_timeout", "first_byte_timeout", "idle_chunk_timeout")


class ProviderSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One provider's section.

    ``url`` is the OpenAI-compatible base (ending in ``/v1``). The key comes from ``api_key`` or
    from ``api_key_file`` (read once when the provider is built; both set is an error).
    ``priority``: lower is preferred. Timeouts in seconds: ``connect_timeout`` for the TCP/TLS
    connection; ``read_timeout`` for the longest silence while a non-streamed answer is
    generated; ``first_byte_timeout`` until a stream's first bytes; ``idle_chunk_timeout`` for
    the longest gap between stream chunks. ``connect_timeout`` plus each of the others must fit
    inside ``[llm] request_deadline_seconds`` (checked at boot), so a stalled upstream is cut by
    its own timeout and the request can still fail over. ``max_retries`` and
    ``requests_per_minute`` (None = unlimited) bound what the router sends here.
    ``model_allowlist`` (empty = every model) matches upstream ids; ``aliases`` maps extra public
    ids to upstream ids.
    """

    enabled: bool = True
    url: str = ""
    api_key: str = ""
    api_key_file: str = ""
    priority: int = 10
    region: str = "eu"
    connect_timeout: float = 5.0
    read_timeout: float = 90.0
    first_byte_timeout: float = 60.0
    idle_chunk_timeout: float = 30.0
    max_retries: int = 2
    requests_per_minute: int | None = None
    model_allowlist: list[str] = []
    aliases: dict[str, str] = {}
    discovery_interval_seconds: float = 300.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be an http:// or https:// URL")
        if self.api_key and self.api_key_file:
            raise ValueError("set api_key or api_key_file, not both")
        if not _REGION.match(self.region):
            raise ValueError("region must be a lowercase name such as 'eu' or 'us'")
        for name in _TIMEOUTS:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not 0 <= self.max_retries <= 10:
            raise ValueError("max_retries must be between 0 and 10")
        if self.requests_per_minute is not None and self.requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1 (or unset for no limit)")
        if any(not model for model in self.model_allowlist):
            raise ValueError("model_allowlist entries must not be empty")
        for public, upstream in self.aliases.items():
            if not public or not upstream or public == upstream:
                raise ValueError(f"alias {public!r} -> {upstream!r} must name two different ids")
        if self.discovery_interval_seconds < 1:
            raise ValueError("discovery_interval_seconds must be at least 1")

    @property
    def has_key(self) -> bool:
        """Whether a key (inline or in a file) is configured."""
        return bool(self.api_key or self.api_key_file)


class PrivatemodeSettings(ProviderSettings, frozen=True, kw_only=True):
    """``[privatemode]``: the Privatemode *proxy* (it attests and encrypts); on by default.

    ``api_key`` is optional: leave it empty when the proxy was started with ``--apiKey``.
    """

    url: str = "http://127.0.0.1:8080/v1"
    priority: int = 10
    region: str = "eu"


class RedPillSettings(ProviderSettings, frozen=True, kw_only=True):
    """``[redpill]``: RedPill's API. Used only when ``enabled`` AND a key is configured
    (``api_key``, ``ENCLAVA_REDPILL_API_KEY``, or ``api_key_file``); without one it contributes
    nothing."""

    url: str = "https://api.redpill.ai/v1"
    priority: int = 20
    region: str = "us"


def read_api_key(settings: ProviderSettings) -> str:
    """The configured key: ``api_key``, or ``api_key_file``'s stripped content (ConfigError if
    unreadable or empty), or ``""``."""
    if not settings.api_key_file:
        return settings.api_key
    path = Path(settings.api_key_file).expanduser()
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"api_key_file {path} cannot be read: {exc.__class__.__name__}") from None
    if not key:
        raise ConfigError(f"api_key_file {path} is empty")
    return key
