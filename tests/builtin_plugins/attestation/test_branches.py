"""Refusals with no other test: NRAS verdicts that are negative or for another nonce, GPU
evidence for another nonce, aci/1 receipts for other request bytes or an unverified upstream,
and an ``http://`` JWKS."""

from __future__ import annotations

import time
from typing import Any

import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from builtin_plugins.attestation.aci import verify_receipt
from builtin_plugins.attestation.gpu import check_nras_token, gpu_payload
from builtin_plugins.attestation.verdicts import AttestationRejected
from builtin_plugins.simulators import aci_crypto
from builtin_plugins.simulators.keys import (
    NRAS_KEY_ID,
    NRAS_KEY_SECRET,
    RECEIPT_KEY_ID,
    RECEIPT_KEY_SEED,
    ed25519_public_hex,
)
from builtin_plugins.simulators.nras import nras_jwks
from kernel.errors import ConfigError

NONCE = bytes(range(32))


def _token(**claims: Any) -> str:
    now = int(time.time())
    body = {
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "eat_nonce": NONCE.hex(),
        "x-nvidia-overall-att-result": True,
        **claims,
    }
    key = ec.derive_private_key(NRAS_KEY_SECRET, ec.SECP384R1())
    return jwt.encode(body, key, algorithm="ES384", headers={"kid": NRAS_KEY_ID})


def test_a_positive_nras_verdict_for_our_nonce_is_accepted() -> None:
    check_nras_token(_token(), jwks=nras_jwks(), nonce=NONCE)


def test_a_negative_nras_overall_result_is_refused() -> None:
    with pytest.raises(AttestationRejected, match="overall result false"):
        check_nras_token(
            _token(**{"x-nvidia-overall-att-result": False}), jwks=nras_jwks(), nonce=NONCE
        )


def test_an_nras_verdict_for_another_nonce_is_refused() -> None:
    with pytest.raises(AttestationRejected, match="not for our nonce"):
        check_nras_token(_token(eat_nonce="00" * 32), jwks=nras_jwks(), nonce=NONCE)


def test_gpu_evidence_for_another_nonce_is_refused() -> None:
    payload = msgspec.json.encode({"nonce": "00" * 32, "evidence_list": [{}]}).decode()
    with pytest.raises(AttestationRejected, match="does not bind our nonce"):
        gpu_payload(payload, nonce=NONCE)


KEYSET: dict[str, Any] = {
    "receipt_signing_keys": [
        {
            "key_id": RECEIPT_KEY_ID,
            "algo": "ed25519",
            "public_key": ed25519_public_hex(RECEIPT_KEY_SEED),
        }
    ],
    "not_after": 4_000_000_000,
}
REQUEST, RESPONSE = b'{"model":"m"}', b'{"id":"chat-1"}'


def _receipt(*, request: bytes = REQUEST, upstream: str = "verified") -> bytes:
    document = {
        "api_version": aci_crypto.API_VERSION,
        "receipt_id": "rcpt-1",
        "workload_keyset_digest": aci_crypto.keyset_digest(KEYSET),
        "event_log": [
            {"type": "request.received", "body_hash": aci_crypto.body_hash(request)},
            {"type": "upstream.verified", "result": upstream},
            {"type": "response.returned", "body_hash": aci_crypto.body_hash(RESPONSE)},
        ],
        "key_id": RECEIPT_KEY_ID,
    }
    return msgspec.json.encode(aci_crypto.sign_receipt(document, RECEIPT_KEY_SEED))


def _verify(receipt: bytes) -> None:
    verify_receipt(receipt, keyset=KEYSET, request_body=REQUEST, response_bodies=(RESPONSE,))


def test_a_receipt_of_this_exchange_verifies() -> None:
    _verify(_receipt())


def test_a_receipt_for_other_request_bytes_is_refused() -> None:
    with pytest.raises(AttestationRejected, match="request hash does not match"):
        _verify(_receipt(request=b'{"model":"other"}'))


def test_a_receipt_without_a_verified_upstream_is_refused() -> None:
    with pytest.raises(AttestationRejected, match="verified TEE upstream"):
        _verify(_receipt(upstream="failed"))


def test_an_http_jwks_is_refused_at_config_load(make_settings: Any) -> None:
    with pytest.raises(ConfigError, match="nras_jwks_url must be https"):
        make_settings(ENCLAVA_ATTESTATION_NRAS_JWKS_URL="http://nras.example/jwks.json")
