"""Debian's headless Chromium for the browser tests (the docs page, the dashboard): the binary,
the flags that keep it offline (no name but loopback resolves, so an asset from a CDN would fail
to load) and a Playwright page on it. Playwright's own browser download is not reachable here,
so it drives the system ``chromium`` through ``executable_path``."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

__all__ = ["OFFLINE_FLAGS", "chromium_binary", "playwright_page"]

OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
TIMEOUT_MS = 10_000


def chromium_binary(what: str) -> str:
    """The ``chromium`` executable; the test fails (naming ``what`` needs it) without one."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail(
            f"chromium is not installed: {what} needs Debian's chromium "
            "(apt-get install -y --no-install-recommends chromium; scripts/test.sh does it as root)"
        )
    return binary


@contextlib.asynccontextmanager
async def playwright_page(what: str, width: int = 1280, height: int = 900) -> AsyncIterator[Any]:
    """A Playwright page in a fresh headless Chromium, closed afterwards."""
    playwright_api = pytest.importorskip("playwright.async_api")
    binary = chromium_binary(what)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=binary, args=list(OFFLINE_FLAGS))
        context = await browser.new_context(viewport={"width": width, "height": height})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            yield page
        finally:
            await browser.close()
