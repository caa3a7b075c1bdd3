"""aci/1 report and receipt checks, on the spec's test vectors and the simulator's documents."""

from __future__ import annotations

import json
import time

import pytest

from builtin_plugins.attestation.aci import verify_aci_report, verify_receipt
from builtin_plugins.attestation.simulated_quotes import TestRootQuotes
from builtin_plugins.attestation.verdicts import AttestationRejected
from builtin_plugins.simulators import aci_crypto
from builtin_plugins.simulators.aci import AciService, Exchange
from builtin_plugins.simulators.jcs import canonical_json
from builtin_plugins.simulators.keys import sim_root_public_key

from .vectors import ATTESTATION

VECTOR_NONCE = bytes(range(32)).hex()
VECTOR_DIGEST = "sha256:53a5cd44b30dcc51999754c719f2628a041f174ecbf9662a6f8e898a10cd9371"
VECTOR_REPORT_DATA = "df2174d28130852b413646a3786927b93e94c11d770268b65def8bdba45cb49e"
QUOTES = TestRootQuotes((sim_root_public_key(),))


def test_the_spec_vectors_hold() -> None:
    text = (ATTESTATION / "aci" / "test-vectors.md").read_text()
    assert VECTOR_DIGEST in text
    assert VECTOR_REPORT_DATA in text
    assert aci_crypto.report_data(VECTOR_DIGEST, VECTOR_NONCE).hex() == VECTOR_REPORT_DATA


async def test_the_simulators_report_for_our_nonce_verifies() -> None:
    service = AciService(3600)
    body = json.dumps(service.report(VECTOR_NONCE)).encode()
    attested = await verify_aci_report(body, nonce=VECTOR_NONCE, quotes=QUOTES, now=time.time())
    assert attested.digest == service.digest
    assert attested.keyset["receipt_signing_keys"][0]["key_id"] == "receipt-1"


async def test_a_report_for_another_nonce_is_rejected() -> None:
    body = json.dumps(AciService(3600).report("ab" * 32)).encode()
    with pytest.raises(AttestationRejected, match="our nonce"):
        await verify_aci_report(body, nonce=VECTOR_NONCE, quotes=QUOTES, now=time.time())


async def test_an_expired_keyset_is_rejected() -> None:
    body = json.dumps(AciService(-10).report(VECTOR_NONCE)).encode()
    with pytest.raises(AttestationRejected, match="expired"):
        await verify_aci_report(body, nonce=VECTOR_NONCE, quotes=QUOTES, now=time.time())


async def test_a_digest_that_is_not_the_keysets_is_rejected() -> None:
    report = AciService(3600).report(VECTOR_NONCE)
    report["attestation"]["workload_keyset"]["subject"] = "elsewhere"
    with pytest.raises(AttestationRejected, match="not the digest"):
        await verify_aci_report(
            json.dumps(report).encode(), nonce=VECTOR_NONCE, quotes=QUOTES, now=time.time()
        )


def _exchange(service: AciService, request: bytes, response: bytes) -> bytes:
    receipt = service.issue(
        Exchange(
            receipt_id="rcpt-1",
            chat_id="chatcmpl-1",
            model="phala/qwen-2.5-7b-instruct",
            endpoint="/v1/chat/completions",
            request_body=request,
            response_body=response,
            verified=True,
            owner=None,
        )
    )
    return canonical_json(receipt)


def test_a_receipt_over_the_exact_bytes_verifies_and_a_changed_byte_does_not() -> None:
    service = AciService(3600)
    body = _exchange(service, b'{"q":1}', b'{"a":1}')
    verify_receipt(
        body, keyset=service.keyset, request_body=b'{"q":1}', response_bodies=(b'{"a":1}',)
    )
    with pytest.raises(AttestationRejected, match="response hash"):
        verify_receipt(
            body,
            keyset=service.keyset,
            request_body=b'{"q":1}',
            response_bodies=(b'{"a":2}',),
        )


def test_a_receipt_under_a_rotated_key_is_not_one_of_the_attested_keyset() -> None:
    service = AciService(3600)
    keyset = dict(service.keyset)
    service.rotate()
    body = _exchange(service, b"q", b"a")
    with pytest.raises(AttestationRejected, match="another keyset"):
        verify_receipt(body, keyset=keyset, request_body=b"q", response_bodies=(b"a",))
