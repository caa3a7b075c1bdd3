"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against a
served gateway in front of both simulated providers, with every name but loopback unresolvable
(a CDN asset would fail to load). Signs in, watches the overview update live, creates a key
(shown once, copied), revokes it, signs out. Screenshots (desktop and 375 px wide) are kept
where the ``shots`` fixture (conftest) says."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.chromium import playwright_page
from support.gateway import SHARED, Gateway, gateway_factory

from builtin_plugins.usage.runtime import UsageRuntime

from .conftest import PASSWORD, new_user

playwright_api = pytest.importorskip("playwright.async_api")

LIVE_TIMEOUT_MS = 10_000
"""Longest wait for the SSE feed's next refresh (every 0.5 s here) to reach the page."""


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    return gateway_factory(make_settings, sqlite_url)


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    async with playwright_page("the dashboard browser test") as opened:
        yield opened


async def screenshots(page: Any, folder: Path, name: str) -> None:
    """Full-page screenshots of ``page`` at desktop width and at 375 px, where nothing may
    scroll sideways."""
    await page.screenshot(path=str(folder / f"{name}-desktop.png"), full_page=True)
    await page.set_viewport_size({"width": 375, "height": 800})
    await page.screenshot(path=str(folder / f"{name}-375.png"), full_page=True)
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= 375 + 1, f"{name} scrolls sideways at 375 px ({scroll} px wide)"
    await page.set_viewport_size({"width": 1280, "height": 900})


async def sign_in(page: Any, email: str) -> None:
    """Fill in the sign-in form; the overview opens."""
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await playwright_api.expect(page).to_have_url(re.compile(r".*/dashboard$"))


@pytest.mark.slow
async def test_sign_in_overview_and_keys_in_chromium(
    gateway: Gateway, page: Any, shots: Path
) -> None:
    expect = playwright_api.expect
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )
    page.on(
        "requestfailed",
        # Leaving a page aborts its live feed: that is no failure.
        lambda r: (
            None if r.failure == "net::ERR_ABORTED" else problems.append(f"{r.url}: {r.failure}")
        ),
    )
    async with gateway(ENCLAVA_DASHBOARD_LIVE_REFRESH_SECONDS="0.5") as env:
        base = env.base_url.removesuffix("/api/v1")
        email = await new_user(env.app, "browser", "admin")
        await page.goto(f"{base}/dashboard/")
        await expect(page).to_have_url(f"{base}/dashboard/login")
        await sign_in(page, email)
        await expect(page.locator("[data-provider=redpill]")).to_contain_text("circuit closed")
        await expect(page.locator("[data-provider=privatemode]")).to_contain_text("verified")
        await expect(page.locator("#requests-today")).to_have_text("0")
        await env.client().chat.completions.create(
            model=SHARED, messages=[{"role": "user", "content": "hi"}]
        )
        await UsageRuntime.of(env.kernel).recorder.flush()
        live = page.locator("#requests-today")
        await expect(live).to_have_text("1", timeout=LIVE_TIMEOUT_MS)  # by SSE, no reload
        await screenshots(page, shots, "overview")

        await page.get_by_role("link", name="API keys").click()
        await page.get_by_label("Name").fill("from the browser")
        await page.get_by_role("button", name="Create key").click()
        key = await page.locator("#new-key").input_value()
        assert key.startswith("en_")
        await page.get_by_role("button", name="Copy").click()
        await expect(page.get_by_role("button", name="Copied")).to_be_visible()
        await screenshots(page, shots, "keys")
        await page.reload()
        assert key not in await page.content()  # shown once
        row = page.locator("tr", has_text="from the browser")
        await row.get_by_role("button", name="Revoke from the browser").click()
        await expect(row.locator(".state")).to_have_text("revoked")
        async with httpx.AsyncClient(base_url=env.base_url) as api:
            refused = await api.get("/models", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401

        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(f"{base}/dashboard/login")
        await page.goto(f"{base}/dashboard/keys")
        await expect(page).to_have_url(f"{base}/dashboard/login")

        await sign_in(page, email)  # the session ends while the overview is open
        await expect(page.locator("#requests-today")).to_have_text("1")
        (cookie,) = [c for c in await page.context.cookies() if c["name"] == "enclava_session"]
        async with httpx.AsyncClient(base_url=base) as api:
            bearer = {"Authorization": f"Bearer {cookie['value']}"}
            ended = await api.post("/api-internal/v1/auth/logout", json={}, headers=bearer)
        assert ended.status_code == 200
        await expect(page).to_have_url(f"{base}/dashboard/login", timeout=LIVE_TIMEOUT_MS)
    assert not problems, problems
