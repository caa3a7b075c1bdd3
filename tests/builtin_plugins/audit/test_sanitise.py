"""Details are cleaned before they are stored: no secrets, bounded size."""

from __future__ import annotations

import msgspec
import pytest

from builtin_plugins.audit.sanitise import (
    MAX_DETAILS_BYTES,
    MAX_STRING_LENGTH,
    REDACTED,
    is_secret_name,
    sanitise_details,
    sanitise_event,
)
from kernel.types import AuditEvent


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "new_password",
        "currentPassword",
        "token",
        "access_token",
        "refreshToken",
        "secret",
        "client_secret",
        "api_key",
        "apiKey",
        "key",
        "keys",
        "authorization",
        "Authorization",
        "cookie",
        "private_key",
        "credentials",
        "key_hash",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["key_id", "key_prefix", "keyId", "token_count", "email_hash", "reason", "monkey", "scopes"],
)
def test_harmless_names(name: str) -> None:
    assert not is_secret_name(name)


def test_secrets_are_dropped_and_ids_counts_kept() -> None:
    details = {
        "password": "hunter2",
        "api_key": "en_abc",
        "authorization": "Bearer xyz",
        "key_id": "k_1",
        "key_prefix": "en_abcdef",
        "total_tokens": 42,
        "nested": {"client_secret": "s", "ok": True, "deeper": [{"token": "t", "n": 1}]},
        "note": "Bearer abc.def",
        "seen": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
    }
    assert sanitise_details(details) == {
        "key_id": "k_1",
        "key_prefix": "en_abcdef",
        "total_tokens": 42,
        "nested": {"ok": True, "deeper": [{"n": 1}]},
        "note": REDACTED,
        "seen": REDACTED,
    }


def test_long_values_are_truncated_and_size_capped() -> None:
    cleaned = sanitise_details({"reason": "x" * 5000, "raw": b"\x00" * 10})
    assert len(cleaned["reason"]) == MAX_STRING_LENGTH
    assert cleaned["raw"] == "<10 bytes>"
    huge = {f"field_{n}": "y" * 400 for n in range(40)}
    capped = sanitise_details(huge)
    assert capped["_truncated"] is True
    assert len(msgspec.json.encode(capped)) <= MAX_DETAILS_BYTES
    assert len(sanitise_details({f"k{n}": n for n in range(500)})) == 50


def test_event_fields_fit_their_columns() -> None:
    event = AuditEvent(action="a" * 300, outcome="success", resource_id="r" * 1000)
    values = sanitise_event(event)
    assert len(values["action"]) == 100
    assert len(values["resource_id"]) == 256
    assert values["actor_type"] == "anonymous"
