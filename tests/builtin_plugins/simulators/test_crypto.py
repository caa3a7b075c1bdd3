"""The pure crypto and format helpers against the published vectors in ``tests/data``."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.eip191 import address_from_private_key, legacy_signature_text, verify_personal

from builtin_plugins.simulators import aci_crypto
from builtin_plugins.simulators.eip191 import (
    SignatureError,
    legacy_report_data,
    recover_personal,
    sign_personal,
)
from builtin_plugins.simulators.jcs import canonical_json
from builtin_plugins.simulators.keys import (
    LEGACY_SIGNING_ADDRESS,
    LEGACY_SIGNING_KEY,
    RECEIPT_KEY_SEED,
    ed25519_public_hex,
    sim_root_public_key,
)
from builtin_plugins.simulators.simquote import (
    QUOTE_SIZE,
    SimQuoteError,
    build_sim_quote,
    parse_sim_quote,
    verify_sim_quote,
)

ATTESTATION = Path(__file__).resolve().parents[2] / "data" / "attestation"


@pytest.fixture(scope="module")
def legacy_vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (ATTESTATION / "redpill" / "legacy_signature_vector.json").read_text()
    )
    return data


@pytest.fixture(scope="module")
def aci_vectors() -> str:
    return (ATTESTATION / "aci" / "test-vectors.md").read_text()


def _blocks(markdown: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```text\n(.*?)```", markdown, flags=re.S)]


def test_legacy_vector_recovers_and_the_simulator_key_reproduces_it(
    legacy_vector: dict[str, Any],
) -> None:
    response = legacy_vector["signature_response"]
    text = legacy_signature_text(
        legacy_vector["request_body_utf8"].encode(), legacy_vector["response_body_utf8"].encode()
    )
    assert text == response["text"]
    assert recover_personal(text, response["signature"]) == legacy_vector["signing_address"]
    assert verify_personal(text, response["signature"], LEGACY_SIGNING_ADDRESS)
    assert bytes.fromhex(legacy_vector["test_private_key"][2:]) == LEGACY_SIGNING_KEY
    assert address_from_private_key(LEGACY_SIGNING_KEY) == LEGACY_SIGNING_ADDRESS
    assert sign_personal(text, LEGACY_SIGNING_KEY) == response["signature"]
    nonce = bytes.fromhex(legacy_vector["attestation_nonce"])
    assert (
        legacy_report_data(LEGACY_SIGNING_ADDRESS, nonce).hex()
        == legacy_vector["expected_report_data_hex"]
    )


def test_legacy_signature_rejects_changed_text_and_garbage(legacy_vector: dict[str, Any]) -> None:
    response = legacy_vector["signature_response"]
    changed = response["text"][:-1] + ("0" if response["text"][-1] != "0" else "1")
    assert not verify_personal(changed, response["signature"], LEGACY_SIGNING_ADDRESS)
    assert not verify_personal(response["text"], "0x1234", LEGACY_SIGNING_ADDRESS)
    with pytest.raises(SignatureError):
        recover_personal(response["text"], "0x" + "00" * 64 + "1d")


def test_aci_keyset_statement_session_and_receipt_vectors(aci_vectors: str) -> None:
    blocks = _blocks(aci_vectors)
    keyset = json.loads(blocks[0])
    assert canonical_json(keyset).decode() == blocks[0]
    digest = aci_crypto.keyset_digest(keyset)
    assert blocks[1] == f"workload_keyset_digest = {digest}"
    nonce = bytes(range(32)).hex()
    assert aci_crypto.attestation_statement(digest, nonce).decode() == blocks[2]
    assert blocks[3].endswith(f" = {aci_crypto.report_data(digest, nonce).hex()}")
    assert aci_crypto.attestation_statement(digest, None).decode() == blocks[4]
    assert blocks[5].endswith(f" = {aci_crypto.report_data(digest, None).hex()}")
    assert aci_crypto.report_data_slot(digest, nonce).hex() == blocks[6]
    assert blocks[9] == f"session_id = {aci_crypto.session_id(json.loads(blocks[8]))}"
    signed = json.loads(blocks[-1])
    unsigned = {k: v for k, v in signed.items() if k != "signature"}
    assert aci_crypto.sign_receipt(unsigned, RECEIPT_KEY_SEED) == signed
    assert hashlib.sha256(canonical_json(unsigned)).hexdigest() in aci_vectors
    aci_crypto.verify_receipt(signed, keyset)
    assert keyset["receipt_signing_keys"][0]["public_key"] == ed25519_public_hex(RECEIPT_KEY_SEED)


def test_aci_receipt_verification_rejects_tampering(aci_vectors: str) -> None:
    blocks = _blocks(aci_vectors)
    keyset, signed = json.loads(blocks[0]), json.loads(blocks[-1])
    with pytest.raises(aci_crypto.AciError):
        aci_crypto.verify_receipt({**signed, "model": "other"}, keyset)
    with pytest.raises(aci_crypto.AciError):
        aci_crypto.verify_receipt({**signed, "key_id": "missing"}, keyset)
    with pytest.raises(aci_crypto.AciError):
        aci_crypto.verify_receipt(signed, {**keyset, "not_after": 1})
    with pytest.raises(aci_crypto.AciError):
        aci_crypto.attestation_statement("sha256:00", "ABC")


def test_jcs_sorts_by_utf16_and_refuses_floats() -> None:
    assert (
        canonical_json({"b": [1, True, None], "a": "\u00e9\n"})
        == '{"a":"\u00e9\\n","b":[1,true,null]}'.encode()
    )
    assert canonical_json({"\U0001f600": 1, "\ufb01": 2}) == '{"\U0001f600":1,"\ufb01":2}'.encode()
    with pytest.raises(TypeError):
        canonical_json({"x": 1.5})


def test_simulated_quote_round_trip_and_rejections() -> None:
    report_data = bytes(range(64))
    quote = build_sim_quote(report_data)
    assert len(quote) == QUOTE_SIZE
    assert quote.startswith(b"ENCLAVA-SIMQUOTE")
    parsed = verify_sim_quote(quote, sim_root_public_key())
    assert parsed.report_data == report_data
    assert parsed.tcb_status == "UpToDate"
    assert (
        parse_sim_quote(build_sim_quote(report_data, tcb_status="OutOfDate")).tcb_status
        == "OutOfDate"
    )
    flipped = bytearray(quote)
    flipped[80] ^= 1
    with pytest.raises(SimQuoteError):
        verify_sim_quote(bytes(flipped), sim_root_public_key())
    with pytest.raises(SimQuoteError):
        verify_sim_quote(quote, bytes.fromhex(ed25519_public_hex(bytes(32))))
    with pytest.raises(SimQuoteError):
        parse_sim_quote(quote[:-1])
