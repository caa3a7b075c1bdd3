"""Admin flows and the dashboard's defences in headless Chromium (offline, as in test_browser),
all through the pages: an admin disables and enables a builtin plugin, edits a plugin's settings
(saved and kept after a reload, a bad value refused next to its field), uploads the sandboxed
``hello`` plugin, approves and enables it; a ``read_only`` user sees no admin links and no write
controls and is refused the admin pages; a POST sent from the signed-in page without the CSRF
token is refused (and one with it accepted); an XSS probe typed into key, chatbot, collection
and plugin-setting fields is shown literally and never runs or becomes markup. Screenshots
(desktop and 375 px wide) are taken by test_browser's ``screenshots``, named apart from the other
browser tests' (they may share one folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.gateway import SHARED, Env, Gateway

from builtin_plugins.api_keys import lifecycle
from builtin_plugins.api_keys.keys import PUBLIC_SCOPES
from builtin_plugins.api_keys.payloads import validated_settings
from builtin_plugins.api_keys.runtime import ApiKeysRuntime
from builtin_plugins.auth.users import get_user_by_email

from .conftest import new_user
from .test_browser import gateway, page, screenshots, sign_in
from .test_browser_pages import watch
from .test_plugins_pages import CACHE, hello_zip

__all__ = ["gateway", "hello_zip", "page"]

playwright_api = pytest.importorskip("playwright.async_api")
PROBE = '"></textarea><img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
"""Breaks out of an attribute or a textarea, then tries an event handler and an inline script."""
ADMIN_LINKS = ("Plugins", "Users", "Audit", "Settings")
DETAILS = ('dt:text-is("Approved") + dd', 'dt:text-is("Enabled") + dd')
"""The sandboxed plugin's page: whether it is approved, whether it is enabled."""


async def signed_in(env: Env, page: Any, email: str) -> str:
    """``email`` signed in on ``page``; returns the dashboard's base URL."""
    base = env.base_url.removesuffix("/api/v1")
    await page.goto(f"{base}/dashboard/login")
    await sign_in(page, email)
    return base


async def key_of(env: Env, email: str, name: str) -> None:
    """A key ``name`` of the user ``email``, put in the store (a read_only user makes none)."""
    db = env.kernel.stores.db
    user = await get_user_by_email(db, email)
    assert user is not None
    fields = {"name": name, "scopes": list(PUBLIC_SCOPES)}
    valid = validated_settings(fields, regions=env.kernel.provider_regions())
    pepper = ApiKeysRuntime.of(env.kernel).pepper()
    await lifecycle.create_key(db, pepper, owner_id=user.id, fields=valid)


def refused(problems: list[str], status: int, url: str) -> None:
    """Forget an expected refusal: its response and the console line Chromium logs for it."""
    problems.remove(f"{status}: {url}")
    problems[:] = [p for p in problems if f"status of {status}" not in p]


async def inert(page: Any) -> None:
    """Nothing the probe carries ran or became an element on the current page."""
    assert await page.evaluate("window.__xss") is None
    assert await page.locator('img[src="x"]').count() == 0
    assert await page.locator("script:not([src])").count() == 0


@pytest.mark.slow
async def test_builtin_plugin_toggle_and_settings_in_chromium(
    gateway: Gateway, page: Any, shots: Path
) -> None:
    expect = playwright_api.expect
    problems = watch(page)
    async with gateway() as env:
        base = await signed_in(env, page, await new_user(env.app, "plugins-admin", "admin"))
        await page.get_by_role("link", name="Plugins").click()
        row = page.locator('[data-plugin="chatbots"]')
        await expect(row.locator(".state")).to_have_text("enabled")
        await expect(page.locator('[data-plugin="auth"]')).to_contain_text("essential")
        await expect(page.locator('[data-plugin="auth"] button')).to_have_count(0)
        await row.get_by_role("button", name="Disable chatbots").click()
        await expect(row.locator(".state")).to_have_text("disabled")
        await screenshots(page, shots, "plugins-toggled")
        await row.get_by_role("button", name="Enable chatbots").click()
        await expect(row.locator(".state")).to_have_text("enabled")

        await page.get_by_role("link", name="Settings of rate_limit").click()
        await page.get_by_label("internal_per_minute").fill("299")
        await page.get_by_role("button", name="Save settings").click()
        await expect(page.locator("#saved")).to_be_visible()
        await page.goto(f"{base}/dashboard/plugins/rate_limit")  # a GET: nothing sent again
        await expect(page.locator("#saved")).to_have_count(0)
        await expect(page.get_by_label("internal_per_minute")).to_have_value("299")
        await page.get_by_label("public_per_minute").fill("lots")
        await page.get_by_role("button", name="Save settings").click()
        error = page.locator("#public_per_minute-error")
        await expect(error).to_contain_text("whole number")
        await expect(page.locator("#f-public_per_minute")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#f-public_per_minute")).to_have_value("lots")
        refused(problems, 400, page.url)
        await screenshots(page, shots, "plugin-settings")
        await page.goto(f"{base}/dashboard/plugins/rate_limit")
        await expect(page.get_by_label("public_per_minute")).to_have_value("1000")
    assert not problems, problems


@pytest.mark.slow
async def test_sandboxed_plugin_upload_approve_enable_in_chromium(
    gateway: Gateway, page: Any, tmp_path: Path, shots: Path, hello_zip: bytes
) -> None:
    expect = playwright_api.expect
    archive = tmp_path / "hello.zip"
    archive.write_bytes(hello_zip)
    problems = watch(page)
    folders = {
        "ENCLAVA_WASM_PLUGINS_DIRECTORY": str(tmp_path / "plugins"),
        "ENCLAVA_WASM_PLUGINS_CACHE_DIR": str(CACHE / "native"),
    }
    async with gateway(**folders) as env:
        base = await signed_in(env, page, await new_user(env.app, "sandbox-admin", "admin"))
        await page.get_by_role("link", name="Plugins").click()
        await expect(page.locator("#sandboxed")).to_contain_text("No sandboxed plugin")
        await page.get_by_label("Upload a plugin").set_input_files(str(archive))
        await page.get_by_role("button", name="Upload", exact=True).click()
        await expect(page).to_have_url(f"{base}/dashboard/sandbox/hello")
        await expect(page.locator("main")).to_contain_text("its own key-value store")
        approved, enabled = (page.locator(f"#sandbox-state {s}") for s in DETAILS)
        await expect(approved).to_have_text("no")
        await page.get_by_role("button", name="Approve these permissions").click()
        await expect(approved).to_have_text("yes")
        await expect(page.locator("#approve-plugin")).to_have_count(0)
        await expect(enabled).to_have_text("no")
        await page.get_by_role("button", name="Enable", exact=True).click()
        await expect(enabled).to_have_text("yes")
        await expect(page.locator("#sandbox-state .state")).to_have_text("active")
        await expect(page.get_by_role("button", name="Disable", exact=True)).to_be_visible()
        await screenshots(page, shots, "sandbox-plugin")
        await page.get_by_role("link", name="← Plugins").click()
        row = page.locator('[data-sandboxed="hello"]')
        await expect(row.locator("td").nth(3)).to_have_text("yes")
        await expect(row.locator(".state")).to_have_text("active")
        await screenshots(page, shots, "plugins-sandboxed")
    assert not problems, problems


@pytest.mark.slow
async def test_read_only_user_sees_and_reaches_no_admin_page_in_chromium(
    gateway: Gateway, page: Any, shots: Path
) -> None:
    expect = playwright_api.expect
    problems = watch(page)
    async with gateway() as env:
        email = await new_user(env.app, "reader", "read_only")
        await key_of(env, email, "reader key")
        base = await signed_in(env, page, email)
        nav = page.locator("header nav")
        await expect(nav.get_by_role("link", name="API keys")).to_be_visible()
        for name in ADMIN_LINKS:
            await expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(0)
        await nav.get_by_role("link", name="API keys").click()
        await expect(page.locator("h1")).to_have_text("API keys")
        await expect(page.locator("#create-key")).to_have_count(0)
        await expect(page.get_by_role("button", name="Create key")).to_have_count(0)
        await expect(page.locator("#keys")).to_contain_text("reader key")
        await expect(page.locator("main form, main button")).to_have_count(0)  # no revoke
        await screenshots(page, shots, "keys-read-only")
        await page.get_by_role("link", name="reader key").click()
        await expect(page.locator("#key-details")).to_contain_text("chat.completions")
        await expect(page.locator("main form, main button")).to_have_count(0)
        for name in ("plugins", "users", "settings"):
            url = f"{base}/dashboard/{name}"
            assert (await page.goto(url)).status == 403, url
            await expect(page.locator("h1")).to_have_text("Something went wrong")
            await expect(page.locator("main")).not_to_contain_text("rate_limit")
            await expect(page.locator("#plugins, #users, #settings")).to_have_count(0)
            refused(problems, 403, url)
        await screenshots(page, shots, "refused-read-only")
    assert not problems, problems


CSRF_LESS = """() => fetch("/dashboard/keys", {
  method: "POST",
  body: new URLSearchParams({name: "x"}),
}).then(r => r.status)"""
WITH_TOKEN = """() => fetch("/dashboard/keys", {
  method: "POST",
  body: new URLSearchParams({name: "y"}),
  headers: JSON.parse(document.body.getAttribute("hx-headers")),
}).then(r => r.status)"""


@pytest.mark.slow
async def test_post_without_csrf_token_is_refused_in_chromium(
    gateway: Gateway, page: Any, tmp_path: Path
) -> None:
    expect = playwright_api.expect
    problems = watch(page)
    async with gateway() as env:
        base = await signed_in(env, page, await new_user(env.app, "csrf-user"))
        await page.get_by_role("link", name="API keys").click()
        assert await page.evaluate(CSRF_LESS) == 403
        refused(problems, 403, f"{base}/dashboard/keys")
        assert await page.evaluate(WITH_TOKEN) == 200  # the same POST with the token is taken
        await page.reload()
        names = page.locator("#keys tbody td:first-child")
        await expect(names).to_have_text(["y"])
        await screenshots(page, tmp_path / "screenshots", "keys-csrf")
    assert not problems, problems


async def _probe_key(page: Any) -> None:
    expect = playwright_api.expect
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_label("Name").fill(PROBE)
    await page.get_by_role("button", name="Create key").click()
    await expect(page.locator("#created-key header")).to_contain_text(PROBE)
    await inert(page)
    await page.get_by_role("link", name=PROBE).click()
    await expect(page.get_by_label("Name")).to_have_value(PROBE)
    await inert(page)


async def _probe_chatbot(page: Any, shots: Path) -> None:
    expect = playwright_api.expect
    await page.get_by_role("link", name="Chatbots").click()
    await page.get_by_role("button", name="New chatbot").click()
    await page.get_by_label("Name").fill(PROBE)
    await page.get_by_label("Model").fill(SHARED)
    await page.get_by_label("Description").fill(PROBE)
    await page.get_by_label("System prompt").fill(PROBE)
    await page.get_by_role("button", name="Create chatbot").click()
    await expect(page.locator("h1")).to_have_text(f"Chatbot {PROBE}")
    await expect(page.get_by_label("System prompt")).to_have_value(PROBE)
    await expect(page.get_by_label("Description")).to_have_value(PROBE)
    await inert(page)
    await page.get_by_role("link", name="← Chatbots").click()
    row = page.locator("#chatbots tbody tr").first
    await expect(row.get_by_role("link", name=PROBE, exact=True)).to_be_visible()
    await expect(row.locator("td small").first).to_have_text(PROBE)  # the description
    await inert(page)
    await screenshots(page, shots, "chatbots-probe")


async def _probe_collection(page: Any) -> None:
    expect = playwright_api.expect
    await page.get_by_role("link", name="Documents").click()
    await page.get_by_text("New collection").click()
    await page.get_by_label("Name").fill(PROBE)
    await page.get_by_label("Description").fill(PROBE)
    await page.get_by_role("button", name="Create collection").click()
    await expect(page.locator("h1")).to_have_text(PROBE)
    await inert(page)
    await page.get_by_role("link", name="← Documents").click()
    row = page.locator("#collections tbody tr").first
    await expect(row.get_by_role("link", name=PROBE, exact=True)).to_be_visible()
    await expect(row.locator("td small").first).to_have_text(PROBE)  # the description
    await inert(page)


async def _probe_settings(page: Any, base: str, problems: list[str]) -> None:
    """Refused setting values come back in their field and in the error that names them; an
    accepted one in its field (and on the settings page)."""
    expect = playwright_api.expect
    for plugin, field, text in (
        ("rate_limit", "buckets", json.dumps({PROBE: 5})),
        ("usage", "currency", PROBE),
    ):
        await page.goto(f"{base}/dashboard/plugins/{plugin}")
        await page.locator(f"#f-{field}").fill(text)
        await page.get_by_role("button", name="Save settings").click()
        await expect(page.get_by_role("alert")).to_contain_text(PROBE)
        await expect(page.locator(f"#f-{field}")).to_have_value(text)
        await inert(page)
        refused(problems, 400, page.url)
    await page.goto(f"{base}/dashboard/plugins/tracing")  # a text setting that is accepted
    await page.locator("#f-service_name").fill(PROBE)
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#saved")).to_be_visible()
    await expect(page.locator("#f-service_name")).to_have_value(PROBE)
    await inert(page)


@pytest.mark.slow
async def test_xss_probe_typed_into_forms_is_inert_in_chromium(
    gateway: Gateway, page: Any, shots: Path
) -> None:
    problems = watch(page)
    async with gateway() as env:
        base = await signed_in(env, page, await new_user(env.app, "xss-admin", "admin"))
        await _probe_key(page)
        await _probe_chatbot(page, shots)
        await _probe_collection(page)
        await _probe_settings(page, base, problems)
        for name in ("keys", "audit", "settings"):
            await page.goto(f"{base}/dashboard/{name}")
            await inert(page)
        await playwright_api.expect(page.locator("main")).to_contain_text(PROBE)  # settings
        await screenshots(page, shots, "settings-probe")
    assert not problems, problems
