"""The attestation page's trust controls in headless Chromium (offline, as in test_browser): an
admin has every model attested, fills the add-a-rule form from what one model presents, sees a
refused value's error next to its field, adds the rule and sees the model matched by it, then
removes it (where the attestation API serves removal). Screenshots at desktop width and 375 px
are kept where the ``shots`` fixture says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.gateway import Gateway

from kernel.services import SimulatedTrust

from .conftest import new_user
from .test_attestation_page import _serves_trust_removal
from .test_browser import gateway, page, screenshots, sign_in
from .test_browser_pages import watch

__all__ = ["gateway", "page"]

playwright_api = pytest.importorskip("playwright.async_api")


@pytest.mark.slow
async def test_trust_rule_added_from_a_model_and_removed_in_chromium(
    gateway: Gateway, page: Any, shots: Path
) -> None:
    expect = playwright_api.expect
    problems = watch(page)
    async with gateway(trust=False) as env:
        env.kernel.service(SimulatedTrust).trust_simulators(True)
        base = env.base_url.removesuffix("/api/v1")
        await page.goto(f"{base}/dashboard/login")
        await sign_in(page, await new_user(env.app, "truster", "admin"))
        await page.goto(f"{base}/dashboard/attestation")
        await page.get_by_role("button", name="Verify every model again now").click()

        await page.locator(".trust-prefill").first.click()
        form = page.locator("#add-trust-form")
        await expect(form).to_be_visible()
        await expect(page.get_by_label("Provider")).to_have_value("redpill")
        measured = await page.locator("#f-mr_td").input_value()
        assert measured
        await screenshots(page, shots, "attestation-prefilled")

        await page.locator("#f-mr_td").fill("not hex")
        await page.get_by_role("button", name="Add trust rule").click()
        await expect(page.locator("#workloads-error")).to_be_visible()
        problems[:] = [p for p in problems if "400" not in p]  # the refused form answers 400
        await page.locator("#f-mr_td").fill(measured)
        await page.get_by_role("button", name="Add trust rule").click()
        added = page.locator(".trust-rule").filter(has_text=f"mr_td={measured}")
        await expect(added.first).to_contain_text("#1 matches")
        await screenshots(page, shots, "attestation-trusted")

        if _serves_trust_removal(env):
            remove = page.get_by_role("button", name="Remove this rule")
            # the trust anchor pins the same value: the added rule is the one with the button
            await (
                added.filter(has=remove)
                .first.get_by_role("button", name="Remove this rule")
                .click()
            )
            await expect(page.locator(".remove-trust")).to_have_count(0)
    assert not problems, problems
