"""The demo verifier's checks, on reports built by the RedPill simulator's own code."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from builtin_plugins.demo.verifier import (
    AttestationRejected,
    AttestedSigner,
    verify_legacy_report,
)
from builtin_plugins.simulators.eip191 import legacy_report_data
from builtin_plugins.simulators.keys import LEGACY_SIGNING_ADDRESS, sim_root_public_key
from builtin_plugins.simulators.redpill_signing import legacy_report
from builtin_plugins.simulators.simquote import build_sim_quote

MODEL = "phala/qwen-2.5-7b-instruct"
OTHER_ROOT_SEED = bytes([0x77]) * 32


def _report(nonce: bytes, **changes: Any) -> bytes:
    return json.dumps({**legacy_report(nonce, MODEL), **changes}).encode()


def _verify(body: bytes, nonce: bytes, **kwargs: Any) -> AttestedSigner:
    return verify_legacy_report(body, nonce=nonce, trusted_root=sim_root_public_key(), **kwargs)


def test_the_simulators_report_for_our_nonce_verifies() -> None:
    nonce = secrets.token_bytes(32)
    signer = _verify(_report(nonce), nonce)
    assert signer == AttestedSigner(signing_address=LEGACY_SIGNING_ADDRESS, tcb_status="UpToDate")


def test_a_quote_signed_by_another_root_is_rejected() -> None:
    nonce = secrets.token_bytes(32)
    data = legacy_report_data(LEGACY_SIGNING_ADDRESS, nonce)
    forged = build_sim_quote(data, root_seed=OTHER_ROOT_SEED).hex()
    with pytest.raises(AttestationRejected, match="trusted root"):
        _verify(_report(nonce, intel_quote=forged), nonce)


def test_a_report_for_another_nonce_is_rejected_even_when_it_echoes_ours() -> None:
    ours, replayed = secrets.token_bytes(32), secrets.token_bytes(32)
    body = _report(replayed, request_nonce=ours.hex())
    with pytest.raises(AttestationRejected, match="nonce"):
        _verify(body, ours)


def test_report_data_for_another_address_is_rejected() -> None:
    nonce = secrets.token_bytes(32)
    data = legacy_report_data("0x" + "ab" * 20, nonce)
    with pytest.raises(AttestationRejected, match="signing address"):
        _verify(_report(nonce, intel_quote=build_sim_quote(data).hex()), nonce)


@pytest.mark.parametrize("status", ["SWHardeningNeeded", "OutOfDate", "Revoked"])
def test_a_tcb_status_outside_the_policy_is_rejected(status: str) -> None:
    nonce = secrets.token_bytes(32)
    data = legacy_report_data(LEGACY_SIGNING_ADDRESS, nonce)
    body = _report(nonce, intel_quote=build_sim_quote(data, tcb_status=status).hex())
    with pytest.raises(AttestationRejected, match=status):
        _verify(body, nonce)
    assert _verify(body, nonce, accepted_tcb=frozenset({status})).tcb_status == status


def test_a_public_key_that_is_not_the_signers_is_rejected() -> None:
    nonce = secrets.token_bytes(32)
    report = legacy_report(nonce, MODEL)
    key = bytearray.fromhex(report["signing_public_key"])
    key[-1] ^= 1
    with pytest.raises(AttestationRejected, match="does not match"):
        _verify(_report(nonce, signing_public_key=key.hex()), nonce)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "malformed"),
        (b'{"signing_address": "0x00"}', "malformed"),
        (b"[]", "malformed"),
    ],
)
def test_malformed_reports_are_rejected(body: bytes, message: str) -> None:
    with pytest.raises(AttestationRejected, match=message):
        _verify(body, secrets.token_bytes(32))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"intel_quote": "zz"}, "not hex"),
        ({"intel_quote": "00" * 200}, "not a simulated quote"),
        ({"signing_algo": "ed25519"}, "unsupported signing algorithm"),
    ],
)
def test_quotes_and_keys_of_the_wrong_kind_are_rejected(
    changes: dict[str, str], message: str
) -> None:
    nonce = secrets.token_bytes(32)
    with pytest.raises(AttestationRejected, match=message):
        _verify(_report(nonce, **changes), nonce)


def test_a_flipped_bit_in_the_quote_is_rejected() -> None:
    nonce = secrets.token_bytes(32)
    quote = bytearray.fromhex(legacy_report(nonce, MODEL)["intel_quote"])
    quote[100] ^= 0x01
    with pytest.raises(AttestationRejected, match="trusted root"):
        _verify(_report(nonce, intel_quote=quote.hex()), nonce)
