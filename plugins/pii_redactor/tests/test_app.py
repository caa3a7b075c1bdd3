"""Run natively by pytest and against the built component by ``enclava plugin test``."""

from app import PiiRedactor
from enclava_sdk.testing import FakeHost, call_endpoint, run_filter

PROMPT = (
    "Mail jane.doe@example.co.uk or call +49 30 1234 5678; "
    "pay to DE89 3704 0044 0532 0130 00. Order 12345 ships Monday."
)


def _chat(content: object) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": content}]}


def test_redacts_email_phone_and_iban_and_counts_them() -> None:
    plugin = PiiRedactor(FakeHost())
    body = run_filter(plugin, _chat(PROMPT))
    assert body is not None
    assert body["messages"][0]["content"] == (
        "Mail [EMAIL] or call [PHONE]; pay to [IBAN]. Order 12345 ships Monday."
    )
    stats = call_endpoint(plugin, "GET", "/stats")["body"]
    assert stats == {"redacted": {"ibans": 1, "emails": 1, "phones": 1}, "total": 3}


def test_clean_prompt_is_left_unchanged() -> None:
    plugin = PiiRedactor(FakeHost())
    assert run_filter(plugin, _chat("What is 2 + 2? Invoice 2024-11.")) is None


def test_invalid_iban_checksum_is_not_redacted() -> None:
    plugin = PiiRedactor(FakeHost(config={"phones": False}))
    assert run_filter(plugin, _chat("DE00 3704 0044 0532 0130 00")) is None


def test_text_parts_of_multipart_content_are_redacted() -> None:
    plugin = PiiRedactor(FakeHost())
    parts = [{"type": "text", "text": "me@example.org"}, {"type": "image_url", "image_url": {}}]
    body = run_filter(plugin, _chat(parts))
    assert body is not None
    assert body["messages"][0]["content"][0] == {"type": "text", "text": "[EMAIL]"}


def test_kinds_can_be_switched_off_in_config() -> None:
    plugin = PiiRedactor(FakeHost(config={"emails": False}))
    assert run_filter(plugin, _chat("write to me@example.org")) is None
