"""Documents and chatbots in headless Chromium (offline, as in test_browser): create a collection,
upload two documents (one chosen, one dropped on the form) and watch each ingest reach
``indexed`` live, search them, then make a chatbot on that collection and talk to it in the
playground, whose answer streams in with its sources and whose conversation survives a reload.
Screenshots (desktop and 375 px wide) are kept where the ``shots`` fixture says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support.gateway import SHARED, Gateway

from .conftest import new_user
from .test_browser import gateway, page, screenshots, sign_in
from .test_browser_pages import watch

__all__ = ["gateway", "page"]

playwright_api = pytest.importorskip("playwright.async_api")
INGEST_TIMEOUT_MS = 60_000
"""Longest wait for both ingests (the local embedding model loads on the first)."""
DROP = """(form) => {
  const files = new DataTransfer();
  files.items.add(new File(["Parking is free on weekends in the garage."], "parking.md"));
  form.dispatchEvent(new DragEvent("drop", {dataTransfer: files, bubbles: true}));
}"""


async def _documents(page: Any, shots: Path, tmp_path: Path) -> None:
    expect = playwright_api.expect
    await page.get_by_role("link", name="Documents").click()
    await page.get_by_text("New collection").click()
    await page.get_by_label("Name").fill("handbook")
    await page.get_by_role("button", name="Create collection").click()
    await expect(page.locator("h1")).to_have_text("handbook")
    office = tmp_path / "office.txt"
    office.write_text("The office opens at nine o'clock. Visitors sign in at the front desk.")
    await page.get_by_label("Files").set_input_files(str(office))
    await page.get_by_role("button", name="Upload").click()
    await page.locator("#upload-form").evaluate(DROP)
    queue = page.locator("#upload-queue li")
    await expect(queue).to_have_count(2)
    await expect(page.locator("#upload-queue li[data-state=uploaded]")).to_have_count(2)
    indexed = page.locator('#documents-body [data-state="indexed"]')
    await expect(indexed).to_have_count(2, timeout=INGEST_TIMEOUT_MS)  # by SSE, no reload
    await screenshots(page, shots, "documents")
    await page.get_by_label("Query").fill("parking on weekends")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#hits li").first).to_contain_text("parking.md")
    await expect(page.locator("#hits .score").first).to_be_visible()
    await screenshots(page, shots, "search")


async def _playground(page: Any, shots: Path) -> None:
    expect = playwright_api.expect
    await page.get_by_role("link", name="Chatbots").click()
    await page.get_by_role("button", name="New chatbot").click()
    await page.get_by_role("link", name="researcher").click()
    await page.get_by_label("Name").fill("handbook bot")
    await page.get_by_label("Model").fill(SHARED)
    await page.get_by_label("handbook").check()
    await page.get_by_role("button", name="Create chatbot").click()
    await page.get_by_role("button", name="Playground").click()
    await page.get_by_label("Message").fill("Where can I park?")
    await page.get_by_role("button", name="Send").click()
    answer = page.locator("#messages .msg.assistant").last
    await expect(answer.locator(".sources summary")).to_contain_text("Sources")
    await expect(answer.locator(".content")).not_to_be_empty()
    await expect(page).to_have_url(re.compile(r"playground\?conversation=[0-9a-f]+$"))
    await page.get_by_label("Message").fill("And when does the office open?")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#messages .msg.assistant .sources")).to_have_count(2)
    await screenshots(page, shots, "playground")
    await page.reload()
    await expect(page.locator("#messages .msg")).to_have_count(4)
    await expect(page.locator("#messages")).to_contain_text("parking.md")


@pytest.mark.slow
async def test_documents_and_playground_in_chromium(
    gateway: Gateway, page: Any, tmp_path: Path, shots: Path
) -> None:
    problems = watch(page)
    async with gateway() as env:
        base = env.base_url.removesuffix("/api/v1")
        email = await new_user(env.app, "workspace")
        await page.goto(f"{base}/dashboard/login")
        await sign_in(page, email)
        await _documents(page, shots, tmp_path)
        await _playground(page, shots)
    assert not problems, problems
