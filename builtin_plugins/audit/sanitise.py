"""Defensive clean-up of audit events before they are stored.

Callers are asked never to put secrets in ``details``; this module makes sure anyway. Keys named
like a credential are dropped (ids, prefixes and counts such as ``key_id``, ``key_prefix`` or
``total_tokens`` stay), strings that look like bearer tokens or JWTs are redacted, strings are
truncated, nesting and list lengths are bounded and the whole ``details`` object is capped.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from builtin_plugins.audit.models import FIELD_LENGTHS
from kernel.types import AuditEvent

__all__ = [
    "MAX_DETAILS_BYTES",
    "MAX_STRING_LENGTH",
    "REDACTED",
    "is_secret_name",
    "sanitise_details",
    "sanitise_event",
]

MAX_STRING_LENGTH = 512
MAX_DETAILS_BYTES = 8192
MAX_KEYS = 50
MAX_ITEMS = 50
MAX_DEPTH = 4
MAX_KEY_LENGTH = 64
REDACTED = "[redacted]"
TRUNCATED_KEY = "_truncated"

_SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "cookie",
    "credential",
    "apikey",
    "privatekey",
    "signature",
)
_SECRET_WORDS = frozenset({"key", "keys", "pwd", "jwt", "bearer", "otp", "session"})
_SAFE_LAST_WORDS = frozenset(
    {"id", "ids", "prefix", "prefixes", "name", "names", "count", "type", "types", "length"}
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_SECRET_VALUE = re.compile(
    r"^\s*(bearer|basic)\s+\S|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.", re.IGNORECASE
)
_encode = msgspec.json.Encoder().encode


def is_secret_name(name: str) -> bool:
    """True when a details key is named like a credential (and not an id, prefix or count)."""
    words = [w for w in _WORD_SPLIT.split(_CAMEL.sub("_", name).lower()) if w]
    if not words or words[-1] in _SAFE_LAST_WORDS:
        return False
    joined = "".join(words)
    return any(part in joined for part in _SECRET_PARTS) or any(w in _SECRET_WORDS for w in words)


def _truncate(value: str, limit: int = MAX_STRING_LENGTH) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _clean(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return REDACTED if _SECRET_VALUE.search(value) else _truncate(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if depth >= MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, dict):
        return _clean_mapping(value, depth + 1)
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)[:MAX_ITEMS]
        return [_clean(item, depth + 1) for item in items]
    return _clean(str(value), depth)


def _clean_mapping(mapping: dict[Any, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw_key, value in list(mapping.items())[:MAX_KEYS]:
        key = _truncate(str(raw_key), MAX_KEY_LENGTH)
        if is_secret_name(key) and not isinstance(value, bool | int | float | None):
            continue
        out[key] = _clean(value, depth)
    return out


def sanitise_details(details: dict[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy of ``details`` without secrets, bounded to ``MAX_DETAILS_BYTES``."""
    cleaned = _clean_mapping(details, 0)
    if len(_encode(cleaned)) <= MAX_DETAILS_BYTES:
        return cleaned
    kept: dict[str, Any] = {TRUNCATED_KEY: True}
    budget = MAX_DETAILS_BYTES - len(_encode(kept))
    for key, value in cleaned.items():
        size = len(_encode({key: value}))
        if size <= budget:
            kept[key] = value
            budget -= size
    return kept


def sanitise_event(event: AuditEvent) -> dict[str, Any]:
    """The column values for ``event``: strings cut to their column length, details cleaned."""
    values: dict[str, Any] = {}
    for column, limit in FIELD_LENGTHS.items():
        value = getattr(event, column)
        values[column] = None if value is None else _truncate(str(value), limit)
    values["details"] = sanitise_details(dict(event.details))
    return values
