"""The attestation plugin's own test-root verifier against quotes the simulator builds with its
own code: both read the same documented format, and every tampered field is refused."""

from __future__ import annotations

import pytest

from builtin_plugins.attestation.simulated_quotes import (
    SIMULATOR_MR_TD,
    SIMULATOR_ROOT,
    TestRootQuotes,
    is_test_quote,
)
from builtin_plugins.attestation.verdicts import AttestationRejected
from builtin_plugins.simulators.keys import sim_root_public_key
from builtin_plugins.simulators.simquote import SIM_MR_TD, build_sim_quote

DATA = bytes(range(64))


def test_the_published_constants_are_the_simulators() -> None:
    assert sim_root_public_key() == SIMULATOR_ROOT
    assert SIM_MR_TD.hex() == SIMULATOR_MR_TD


async def test_a_simulator_quote_verifies_field_for_field() -> None:
    quote = build_sim_quote(DATA, tcb_status="SWHardeningNeeded")
    accepted = frozenset({"UpToDate", "SWHardeningNeeded"})
    verified = await TestRootQuotes((SIMULATOR_ROOT,), accepted_tcb=accepted).verify(quote)
    assert verified.report_data == DATA
    assert verified.tcb_status == "SWHardeningNeeded"
    assert verified.mr_td == SIMULATOR_MR_TD
    assert is_test_quote(quote)


@pytest.mark.parametrize(
    ("offset", "match"),
    [
        (0, "not a test-root quote"),
        (17, "unsupported"),
        (19, "unsupported"),
        (22, "unsupported"),
        (30, "does not verify"),
        (100, "does not verify"),
        (199, "does not verify"),
    ],
)
async def test_every_tampered_byte_is_refused(offset: int, match: str) -> None:
    quote = bytearray(build_sim_quote(DATA))
    quote[offset] ^= 0x01
    with pytest.raises(AttestationRejected, match=match):
        await TestRootQuotes((SIMULATOR_ROOT,)).verify(bytes(quote))


async def test_a_truncated_quote_or_a_real_one_without_fallback_is_refused() -> None:
    verifier = TestRootQuotes((SIMULATOR_ROOT,))
    with pytest.raises(AttestationRejected, match="not a test-root quote"):
        await verifier.verify(build_sim_quote(DATA)[:-1])
    with pytest.raises(AttestationRejected, match="not a test-root quote"):
        await verifier.verify(b"\x04\x00" + bytes(598))
