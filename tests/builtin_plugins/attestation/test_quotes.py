"""Intel DCAP on the real TDX vectors, offline, with the clock inside the collateral window."""

from __future__ import annotations

import pytest

from builtin_plugins.attestation.collateral import CollateralCache
from builtin_plugins.attestation.quotes import DcapQuotes
from builtin_plugins.attestation.simulated_quotes import TestRootQuotes
from builtin_plugins.attestation.verdicts import AttestationRejected
from builtin_plugins.simulators.keys import sim_root_public_key
from builtin_plugins.simulators.simquote import build_sim_quote

from .vectors import OUTDATED_NOW, QUOTE_NOW, FileCollateral, quote

REPORT_DATA_OFFSET = 48 + 584 - 64
"""Quote header, then the TD report whose last 64 bytes are report_data."""


def _dcap(source: FileCollateral, now: float, **options: object) -> DcapQuotes:
    cache = CollateralCache(source, clock=lambda: now)
    return DcapQuotes(cache, clock=lambda: now, **options)  # type: ignore[arg-type]


async def test_real_quote_verifies_inside_its_collateral_window() -> None:
    verified = await _dcap(FileCollateral("tdx_quote_collateral.json"), QUOTE_NOW).verify(quote())
    assert verified.tcb_status == "UpToDate"
    assert verified.report_data.hex().startswith("9a9d48e7")
    assert verified.report_data.hex().endswith("2b523f20")
    assert len(verified.report_data) == 64


async def test_a_flipped_report_data_bit_is_rejected() -> None:
    raw = bytearray(quote())
    raw[REPORT_DATA_OFFSET] ^= 0x01
    dcap = _dcap(FileCollateral("tdx_quote_collateral.json"), QUOTE_NOW)
    with pytest.raises(AttestationRejected, match="signature is invalid"):
        await dcap.verify(bytes(raw))


async def test_an_outdated_quote_is_rejected() -> None:
    source = FileCollateral("tdx_quote_outdated_collateral.json")
    with pytest.raises(AttestationRejected, match="No matching TCB level"):
        await _dcap(source, OUTDATED_NOW).verify(quote("tdx_quote_outdated"))


async def test_expired_collateral_is_rejected() -> None:
    source = FileCollateral("tdx_quote_collateral.json")
    with pytest.raises(AttestationRejected, match=r"(?i)expired"):
        await _dcap(source, QUOTE_NOW + 40 * 86400).verify(quote())


async def test_the_real_clock_is_past_the_vectors_crls() -> None:
    dcap = DcapQuotes(CollateralCache(FileCollateral("tdx_quote_collateral.json")))
    with pytest.raises(AttestationRejected):
        await dcap.verify(quote())


async def test_tcb_policy_refuses_statuses_it_does_not_list() -> None:
    dcap = _dcap(
        FileCollateral("tdx_quote_collateral.json"),
        QUOTE_NOW,
        accepted_tcb=frozenset({"SWHardeningNeeded"}),
    )
    with pytest.raises(AttestationRejected, match="TCB status UpToDate is not accepted"):
        await dcap.verify(quote())


async def test_collateral_is_fetched_once_until_its_next_update() -> None:
    source = FileCollateral("tdx_quote_collateral.json")
    dcap = _dcap(source, QUOTE_NOW)
    await dcap.verify(quote())
    await dcap.verify(quote())
    assert source.fetches == 1


async def test_collateral_is_fetched_again_after_its_next_update() -> None:
    source = FileCollateral("tdx_quote_collateral.json")
    now = [float(QUOTE_NOW)]
    cache = CollateralCache(source, clock=lambda: now[0])
    await cache.get(quote())
    now[0] += 29 * 86400
    await cache.get(quote())
    assert source.fetches == 1
    now[0] += 2 * 86400
    await cache.get(quote())
    assert source.fetches == 2


async def test_unavailable_collateral_fails_closed() -> None:
    class Down:
        async def fetch(self, quote: bytes) -> object:
            raise ValueError("PCCS unreachable")

    dcap = DcapQuotes(CollateralCache(Down()), clock=lambda: QUOTE_NOW)  # type: ignore[arg-type]
    with pytest.raises(AttestationRejected, match="collateral unavailable"):
        await dcap.verify(quote())


async def test_a_simulated_quote_is_no_dcap_quote() -> None:
    dcap = _dcap(FileCollateral("tdx_quote_collateral.json"), QUOTE_NOW)
    with pytest.raises(AttestationRejected, match="not a DCAP quote"):
        await dcap.verify(build_sim_quote(bytes(64)))


async def test_simulated_quotes_trust_only_the_simulator_root() -> None:
    assert await TestRootQuotes((sim_root_public_key(),)).verify(build_sim_quote(bytes(64)))
    with pytest.raises(AttestationRejected, match="does not verify"):
        await TestRootQuotes((bytes(32),)).verify(build_sim_quote(bytes(64)))
    with pytest.raises(AttestationRejected, match="OutOfDate is not accepted"):
        await TestRootQuotes((sim_root_public_key(),)).verify(
            build_sim_quote(bytes(64), tcb_status="OutOfDate")
        )
