"""The dashboard's other pages in headless Chromium (offline, as in test_browser): edit a key's
restrictions and regenerate it, use it with the openai SDK, read the request in the usage chart
(drawn by the vendored uPlot) and breakdowns, open every admin page and go from the settings page
to a plugin's settings form; each page is screenshotted at desktop width and at 375 px (where
nothing may scroll sideways), kept where the ``shots`` fixture says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from support.gateway import SHARED, Gateway

from builtin_plugins.usage.runtime import UsageRuntime

from .conftest import new_user
from .test_browser import gateway, page, screenshots, sign_in

__all__ = ["gateway", "page"]

playwright_api = pytest.importorskip("playwright.async_api")
ADMIN_PAGES = ("budgets", "plugins", "attestation", "users", "audit", "settings")


def watch(page: Any) -> list[str]:
    """Console errors and failed loads (a CSP refusal shows as a console error)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )
    return problems


@pytest.mark.slow
async def test_key_edit_usage_and_admin_pages_in_chromium(
    gateway: Gateway, page: Any, shots: Path
) -> None:
    expect = playwright_api.expect
    problems = watch(page)
    async with gateway() as env:
        base = env.base_url.removesuffix("/api/v1")
        email = await new_user(env.app, "pages", "admin")
        await page.goto(f"{base}/dashboard/login")
        await sign_in(page, email)

        await page.get_by_role("link", name="API keys").click()
        await page.get_by_label("Name").fill("restricted")
        await page.get_by_role("button", name="Create key").click()
        await page.get_by_role("link", name="restricted").click()
        await page.get_by_label("embeddings").uncheck()
        await page.get_by_label("Allowed models").fill(SHARED)
        await page.get_by_label("Rate limit per minute").fill("30")
        await page.get_by_label("Response verification").select_option("strict_trailer")
        await page.get_by_role("button", name="Save changes").click()
        await expect(page.locator("#saved")).to_be_visible()
        await expect(page.get_by_label("Allowed models")).to_have_value(SHARED)
        await expect(page.get_by_label("embeddings")).not_to_be_checked()
        await page.get_by_label("Allowed models").fill("")
        await page.get_by_label("Allowed IP addresses or networks").fill("not-an-ip")
        await page.get_by_role("button", name="Save changes").click()
        await expect(page.locator("#allowed_ips-error")).to_contain_text("not an IP address")
        problems.remove(f"400: {page.url}")  # the refused form answers 400, as it should
        problems[:] = [p for p in problems if "status of 400" not in p]
        await page.get_by_role("button", name="Regenerate key").click()
        key = await page.locator("#new-key").input_value()
        assert key.startswith("en_")
        await screenshots(page, shots, "key-edit")

        sdk = openai.AsyncOpenAI(base_url=env.base_url, api_key=key, max_retries=0)
        await sdk.chat.completions.create(
            model=SHARED, messages=[{"role": "user", "content": "hi"}]
        )
        await UsageRuntime.of(env.kernel).recorder.flush()
        await page.get_by_role("link", name="Usage").click()
        await expect(page.locator("#usage-requests")).to_have_text("1")
        await expect(page.locator("#chart-by-day canvas").first).to_be_visible()
        await expect(page.locator(f'#by-model [data-group="{SHARED}"]')).to_be_visible()
        await expect(page.locator("#by-key")).to_contain_text("restricted")
        async with page.expect_download() as download:
            await page.get_by_role("button", name="Export CSV").click()
        assert "usage" in (await download.value).suggested_filename
        await screenshots(page, shots, "usage")

        for name in ADMIN_PAGES:
            await page.goto(f"{base}/dashboard/{name}")
            await expect(page.locator("h1")).to_be_visible()
            await screenshots(page, shots, name)
        await page.get_by_role("button", name="Edit [rate_limit]").click()  # on settings
        await expect(page.locator("#f-public_per_minute")).to_be_visible()
    assert not problems, problems
