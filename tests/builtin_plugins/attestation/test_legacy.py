"""Legacy report and signature checks, on the simulator's reports and the public vector."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from builtin_plugins.attestation.legacy import (
    LegacyAttestation,
    verify_legacy_receipt,
    verify_legacy_report,
    verify_signature,
)
from builtin_plugins.attestation.simulated_quotes import TestRootQuotes
from builtin_plugins.attestation.verdicts import AttestationRejected
from builtin_plugins.simulators.eip191 import legacy_report_data
from builtin_plugins.simulators.keys import LEGACY_SIGNING_ADDRESS, sim_root_public_key
from builtin_plugins.simulators.redpill_signing import legacy_report
from builtin_plugins.simulators.simquote import build_sim_quote

from .vectors import ATTESTATION

MODEL = "phala/qwen-2.5-7b-instruct"
VECTOR = json.loads((ATTESTATION / "redpill" / "legacy_signature_vector.json").read_text())


def _report(nonce: bytes, **changes: Any) -> bytes:
    """The simulator's report for ``nonce`` with ``changes`` in the top level and the entry."""
    report = {**legacy_report(nonce, MODEL), **changes}
    entry = {k: v for k, v in report.items() if k != "all_attestations"}
    return json.dumps({**report, "all_attestations": [entry]}).encode()


async def _verify(body: bytes, nonce: bytes, **options: Any) -> LegacyAttestation:
    quotes = TestRootQuotes((sim_root_public_key(),), **options)
    return await verify_legacy_report(body, nonce=nonce, quotes=quotes)


async def test_the_simulators_report_for_our_nonce_verifies() -> None:
    nonce = secrets.token_bytes(32)
    attested = await _verify(_report(nonce), nonce)
    assert attested.signing_address == LEGACY_SIGNING_ADDRESS
    assert attested.quote.tcb_status == "UpToDate"


async def test_a_report_for_another_nonce_is_rejected_even_when_it_echoes_ours() -> None:
    ours, theirs = secrets.token_bytes(32), secrets.token_bytes(32)
    quote = build_sim_quote(legacy_report_data(LEGACY_SIGNING_ADDRESS, theirs)).hex()
    body = _report(ours, intel_quote=quote, request_nonce=ours.hex())
    with pytest.raises(AttestationRejected, match="our nonce"):
        await _verify(body, ours)


async def test_report_data_for_another_address_is_rejected() -> None:
    nonce = secrets.token_bytes(32)
    quote = build_sim_quote(legacy_report_data("0x" + "ab" * 20, nonce)).hex()
    with pytest.raises(AttestationRejected, match="signing address"):
        await _verify(_report(nonce, intel_quote=quote), nonce)


async def test_the_entry_for_the_signing_address_must_exist() -> None:
    nonce = secrets.token_bytes(32)
    report = legacy_report(nonce, MODEL)
    report["all_attestations"] = [{**report, "signing_address": "0x" + "ab" * 20}]
    with pytest.raises(AttestationRejected, match="all_attestations"):
        await _verify(json.dumps(report).encode(), nonce)


@pytest.mark.parametrize("status", ["SWHardeningNeeded", "OutOfDate", "Revoked"])
async def test_a_tcb_status_outside_the_policy_is_rejected(status: str) -> None:
    nonce = secrets.token_bytes(32)
    data = legacy_report_data(LEGACY_SIGNING_ADDRESS, nonce)
    body = _report(nonce, intel_quote=build_sim_quote(data, tcb_status=status).hex())
    with pytest.raises(AttestationRejected, match=status):
        await _verify(body, nonce)
    attested = await _verify(body, nonce, accepted_tcb=frozenset({status}))
    assert attested.quote.tcb_status == status


async def test_a_public_key_that_is_not_the_signers_is_rejected() -> None:
    nonce = secrets.token_bytes(32)
    key = bytearray.fromhex(legacy_report(nonce, MODEL)["signing_public_key"])
    key[-1] ^= 1
    with pytest.raises(AttestationRejected, match="does not match"):
        await _verify(_report(nonce, signing_public_key=key.hex()), nonce)


@pytest.mark.parametrize("body", [b"not json", b'{"signing_address": "0x00"}', b"[]"])
async def test_malformed_reports_are_rejected(body: bytes) -> None:
    with pytest.raises(AttestationRejected, match="malformed"):
        await _verify(body, secrets.token_bytes(32))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"intel_quote": "zz"}, "not hex"),
        ({"intel_quote": "00" * 200}, "not a test-root quote"),
        ({"signing_algo": "ed25519"}, "unsupported signing algorithm"),
    ],
)
async def test_quotes_and_keys_of_the_wrong_kind_are_rejected(
    changes: dict[str, str], message: str
) -> None:
    nonce = secrets.token_bytes(32)
    with pytest.raises(AttestationRejected, match=message):
        await _verify(_report(nonce, **changes), nonce)


async def test_a_flipped_bit_in_the_quote_is_rejected() -> None:
    nonce = secrets.token_bytes(32)
    quote = bytearray.fromhex(legacy_report(nonce, MODEL)["intel_quote"])
    quote[100] ^= 0x01
    with pytest.raises(AttestationRejected, match="trusted root"):
        await _verify(_report(nonce, intel_quote=quote.hex()), nonce)


def _signature(**changes: str) -> bytes:
    return json.dumps({**VECTOR["signature_response"], **changes}).encode()


def _check(body: bytes, response: bytes | None = None, address: str | None = None) -> None:
    verify_signature(
        body,
        request_body=VECTOR["request_body_utf8"].encode(),
        response_bodies=(response or VECTOR["response_body_utf8"].encode(),),
        address=address or VECTOR["signing_address"],
    )


def test_the_public_signature_vector_verifies() -> None:
    _check(_signature())


def test_a_changed_response_byte_is_caught() -> None:
    tampered = VECTOR["response_body_utf8"].replace("hello", "hellO").encode()
    with pytest.raises(AttestationRejected, match="do not match the bytes"):
        _check(_signature(), response=tampered)


def test_a_signature_by_another_key_is_refused() -> None:
    with pytest.raises(AttestationRejected, match="not signed by the attested key"):
        _check(_signature(), address="0x" + "ab" * 20)


def test_a_mangled_signature_is_refused() -> None:
    signature = VECTOR["signature_response"]["signature"]
    mangled = signature[:10] + ("0" if signature[10] != "0" else "1") + signature[11:]
    with pytest.raises(AttestationRejected):
        _check(_signature(signature=mangled))


def _answer(receipt: dict[str, Any] | None, text: str = "aa:bb") -> bytes:
    return json.dumps({"text": text, "signature": "0x", "receipt": receipt}).encode()


def _receipt(result: str, returned: str = "bb") -> dict[str, Any]:
    events = [
        {"type": "request.received", "body_hash": "sha256:aa"},
        {"type": "response.returned", "body_hash": f"sha256:{returned}"},
        {"type": "upstream.verified", "result": result},
    ]
    return {"api_version": "aci/1", "event_log": events}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (_answer(None), "carries no receipt"),
        (_answer(_receipt("failed")), "verified TEE upstream"),
        (_answer(_receipt("verified", returned="cc")), "records other bytes"),
    ],
)
def test_a_legacy_receipt_must_show_this_exchange_and_a_verified_upstream(
    answer: bytes, reason: str
) -> None:
    with pytest.raises(AttestationRejected, match=reason):
        verify_legacy_receipt(answer)
    verify_legacy_receipt(_answer(_receipt("verified")))
