"""The API keys page through the real app: a key is shown once, revoke and restore change what
the API sees, a user never sees or touches another user's keys (the internal API decides), an
admin sees everyone's, a read-only user gets no write controls and the server refuses anyway."""

from __future__ import annotations

import re
from typing import Any

import httpx

from .conftest import browser, signed_in

KEYS = "/dashboard/keys"
HTMX = {"HX-Request": "true"}
_KEY = re.compile(r'id="new-key" value="(en_[A-Za-z0-9_-]+)"')
_ID = re.compile(r'data-key-id="([0-9a-f]+)"')


async def create(client: httpx.AsyncClient, csrf: str, name: str, **fields: str) -> httpx.Response:
    return await client.post(
        KEYS, data={"name": name, **fields}, headers={**HTMX, "X-CSRF-Token": csrf}
    )


async def api_keys(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    token = client.cookies["enclava_session"]
    response = await client.get(
        "/api-internal/v1/api-keys", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_a_new_key_is_shown_once_and_works(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "kim")
        panel = await create(client, csrf, "ci", allowed_models="m-1, m-2", expires_on="2099-01-31")
        assert panel.status_code == 200
        assert "<html" not in panel.text  # htmx gets the panel only
        match = _KEY.search(panel.text)
        assert match, panel.text
        key = match.group(1)
        assert 'data-copy="new-key"' in panel.text
        (stored,) = await api_keys(client)
        assert stored["name"] == "ci"
        assert stored["allowed_models"] == ["m-1", "m-2"]
        assert stored["expires_at"].startswith("2099-01-31T23:59:59")
        page = await client.get(KEYS)
        assert "ci" in page.text
        assert key not in page.text
        models = await client.get("/api/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert models.status_code == 200, models.text


async def test_create_without_csrf_is_refused(app: Any, running: Any) -> None:
    async with running(app) as client:
        await signed_in(client, app, "lee")
        bare = await client.post(KEYS, data={"name": "x"})
        forged = await client.post(KEYS, data={"name": "x", "_csrf": "f" * 64})
        header = await client.post(KEYS, data={"name": "x"}, headers={"X-CSRF-Token": "f" * 64})
        assert bare.status_code == forged.status_code == header.status_code == 403
        assert await api_keys(client) == []


async def test_api_validation_errors_show_in_the_panel(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "max")
        panel = await create(client, csrf, "")
        plain = await client.post(KEYS, data={"name": "", "_csrf": csrf})
    assert panel.status_code == 200
    assert 'id="form-error"' in panel.text
    assert plain.status_code == 400
    assert 'id="form-error"' in plain.text


async def test_revoke_and_restore(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "ned")
        panel = await create(client, csrf, "temp")
        key = _KEY.search(panel.text).group(1)  # type: ignore[union-attr]
        key_id = _ID.search(panel.text).group(1)  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {key}"}
        revoked = await client.post(
            f"{KEYS}/{key_id}/revoke", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert revoked.status_code == 200
        assert ">revoked<" in revoked.text
        assert (await api_keys(client))[0]["revoked_at"] is not None
        assert (await client.get("/api/v1/models", headers=auth)).status_code == 401
        restored = await client.post(f"{KEYS}/{key_id}/restore", data={"_csrf": csrf})
        assert restored.status_code == 200
        assert ">active<" in restored.text
        assert (await api_keys(client))[0]["revoked_at"] is None
        assert (await client.get("/api/v1/models", headers=auth)).status_code == 200
        refused = await client.post(f"{KEYS}/{key_id}/revoke")
        assert refused.status_code == 403
        assert (await api_keys(client))[0]["revoked_at"] is None


async def test_users_see_only_their_own_keys_and_admins_all(app: Any, running: Any) -> None:
    async with running(app) as owner, browser(app) as other, browser(app) as admin:
        owner_csrf = await signed_in(owner, app, "olga")
        panel = await create(owner, owner_csrf, "olga-key")
        key_id = _ID.search(panel.text).group(1)  # type: ignore[union-attr]
        other_csrf = await signed_in(other, app, "otto")
        page = await other.get(KEYS)
        assert "olga-key" not in page.text
        assert key_id not in page.text
        attempt = await other.post(f"{KEYS}/{key_id}/revoke", data={"_csrf": other_csrf})
        assert f"No API key with id &#39;{key_id}&#39;" in attempt.text
        assert (await api_keys(owner))[0]["revoked_at"] is None
        await signed_in(admin, app, "ann", role="admin")
        everyone = await admin.get(KEYS)
    assert "olga-key" in everyone.text
    assert "every user" in everyone.text
    assert "<td>olga@example.com</td>" in everyone.text


async def test_read_only_users_get_no_write_controls(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "rob", role="read_only")
        page = await client.get(KEYS)
        assert 'id="create-key"' not in page.text
        attempt = await client.post(KEYS, data={"name": "sneaky", "_csrf": csrf})
        assert attempt.status_code == 403
        assert "needs the &#39;user&#39; role" in attempt.text
        assert await api_keys(client) == []


async def test_text_fields_are_escaped(app: Any, running: Any) -> None:
    probe = '<script>alert("x")</script>'
    async with running(app) as client:
        csrf = await signed_in(client, app, "xss")
        panel = await create(client, csrf, probe)
        page = await client.get(KEYS)
    for html in (panel.text, page.text):
        assert probe not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
