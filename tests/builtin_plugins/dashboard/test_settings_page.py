"""The runtime settings page through the real app: an admin sees every section in effect with
secrets masked, kernel sections marked as needing a restart with the variable that sets each
key, plugin sections linked to their plugin's form, and a change saved there shows at once;
users are refused the page and never see its link."""

from __future__ import annotations

from typing import Any

from .conftest import signed_in

SETTINGS = "/dashboard/settings"


def section(page: str, name: str) -> str:
    """The HTML of one section of the settings page."""
    return page.split(f'data-section="{name}"', 1)[1].split("</section>", 1)[0]


async def test_admin_sees_every_section_masked(app: Any, running: Any) -> None:
    secret = app.state.kernel.settings.sections["auth"].jwt_secret
    async with running(app) as client:
        await signed_in(client, app, "set", role="admin")
        page = await client.get(SETTINGS)
    assert page.status_code == 200, page.text
    assert secret not in page.text
    general = section(page.text, "general")
    assert "<code>ENCLAVA_DATA_DIR</code>" in general
    database = section(page.text, "database")
    assert "needs a restart" in database
    assert "<code>ENCLAVA_DATABASE_URL</code>" in database
    auth = section(page.text, "auth")
    assert '<tr data-key="jwt_secret">' in auth
    assert "********" in auth.split('data-key="jwt_secret"', 1)[1].split("</tr>", 1)[0]
    rate_limit = section(page.text, "rate_limit")
    assert 'href="/dashboard/plugins/rate_limit"' in rate_limit
    assert "needs a restart" not in rate_limit
    assert page.text.index('data-section="database"') < page.text.index('data-section="auth"')


async def test_a_runtime_change_shows_at_once(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "chg", role="admin")
        saved = await client.post(
            "/dashboard/plugins/dashboard",
            data={"_csrf": csrf, "live_refresh_seconds": "7.0", "live_stream_seconds": "300.0"},
        )
        assert saved.status_code == 200, saved.text
        page = await client.get(SETTINGS)
    row = section(page.text, "dashboard").split('data-key="live_refresh_seconds"', 1)[1]
    assert "<code>7.0</code>" in row.split("</tr>", 1)[0]


async def test_users_are_refused(app: Any, running: Any) -> None:
    async with running(app) as client:
        await signed_in(client, app, "usr")
        page = await client.get(SETTINGS)
        nav = await client.get("/dashboard/")
    assert page.status_code == 403
    assert 'href="/dashboard/settings"' not in nav.text
