"""Editing an API key through the dashboard: every restriction the form shows is what the API
stores and enforces, refused values show next to their field, regenerate shows the new key once,
a read-only user sees no form and the server refuses anyway."""

from __future__ import annotations

import re
from typing import Any

import httpx

from .conftest import signed_in
from .test_keys import _ID, _KEY, KEYS, api_keys, create


async def new_key(client: httpx.AsyncClient, csrf: str, name: str = "edit-me") -> tuple[str, str]:
    panel = await create(client, csrf, name)
    return _ID.search(panel.text).group(1), _KEY.search(panel.text).group(1)  # type: ignore[union-attr]


def edit_form(csrf: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_csrf": csrf,
        "name": "edited",
        "scopes": ["chat.completions", "models.list"],
        "allowed_models": "m-1, m-2",
        "allowed_ips": "10.0.0.0/8\n127.0.0.1",
        "expires_on": "2099-06-30",
        "expires_was": "",
        "rate_limit_per_minute": "42",
        "required_region": "",
        "response_verification": "strict",
    }
    return {**base, **fields}


async def test_every_restriction_is_saved_and_enforced(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "edna")
        key_id, key = await new_key(client, csrf)
        page = await client.get(f"{KEYS}/{key_id}")
        assert page.status_code == 200
        for label in (
            "Scopes",
            "Allowed models",
            "Allowed IP addresses",
            "Expires on",
            "Rate limit per minute",
            "Required region",
            "Response verification",
            "Allowed chatbots",
            "Allowed collections",
        ):
            assert label in page.text, label
        saved = await client.post(f"{KEYS}/{key_id}", data=edit_form(csrf))
        assert saved.status_code == 200, saved.text
        assert 'id="saved"' in saved.text
        (stored,) = await api_keys(client)
        auth = {"Authorization": f"Bearer {key}"}
        models = await client.get("/api/v1/models", headers=auth)
        embed = await client.post(
            "/api/v1/embeddings", json={"model": "m-1", "input": "x"}, headers=auth
        )
    assert stored["name"] == "edited"
    assert stored["scopes"] == ["chat.completions", "models.list"]
    assert stored["allowed_models"] == ["m-1", "m-2"]
    assert stored["allowed_ips"] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert stored["expires_at"].startswith("2099-06-30T23:59:59")
    assert stored["rate_limit_per_minute"] == 42
    assert stored["response_verification"] == "strict"
    assert stored["required_region"] is None
    assert models.status_code == 200
    assert embed.status_code == 403  # the embeddings scope was taken away


async def test_refused_values_show_next_to_their_field(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "ivan")
        key_id, _ = await new_key(client, csrf)
        bad_ip = await client.post(f"{KEYS}/{key_id}", data=edit_form(csrf, allowed_ips="nope"))
        bad_region = await client.post(
            f"{KEYS}/{key_id}", data=edit_form(csrf, required_region="mars")
        )
        bad_limit = await client.post(
            f"{KEYS}/{key_id}", data=edit_form(csrf, rate_limit_per_minute="-3")
        )
        (stored,) = await api_keys(client)
    assert bad_ip.status_code == 400
    assert 'id="allowed_ips-error"' in bad_ip.text
    assert "&#39;nope&#39; is not an IP address" in bad_ip.text
    assert 'id="required_region-error"' in bad_region.text
    assert bad_limit.status_code == 400
    assert 'id="rate_limit_per_minute-error"' in bad_limit.text
    assert stored["name"] == "edit-me"


async def test_unchanged_expiry_is_kept_to_the_second(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "exp")
        key_id, _ = await new_key(client, csrf)
        token = client.cookies["enclava_session"]
        await client.patch(
            f"/api-internal/v1/api-keys/{key_id}",
            json={"expires_at": "2099-01-02T03:04:05Z"},
            headers={"Authorization": f"Bearer {token}"},
        )
        page = await client.get(f"{KEYS}/{key_id}")
        assert 'name="expires_was" value="2099-01-02"' in page.text
        await client.post(
            f"{KEYS}/{key_id}",
            data=edit_form(csrf, expires_on="2099-01-02", expires_was="2099-01-02"),
        )
        (stored,) = await api_keys(client)
    assert stored["expires_at"].startswith("2099-01-02T03:04:05")


async def test_regenerate_shows_the_new_key_once(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "reg")
        key_id, old = await new_key(client, csrf)
        refused = await client.post(f"{KEYS}/{key_id}/regenerate")
        assert refused.status_code == 403
        answer = await client.post(f"{KEYS}/{key_id}/regenerate", data={"_csrf": csrf})
        assert answer.status_code == 200
        match = re.search(r'id="new-key" value="(en_[A-Za-z0-9_-]+)"', answer.text)
        assert match, answer.text
        new = match.group(1)
        assert new != old
        again = await client.get(f"{KEYS}/{key_id}")
        assert new not in again.text
        old_use = await client.get("/api/v1/models", headers={"Authorization": f"Bearer {old}"})
        new_use = await client.get("/api/v1/models", headers={"Authorization": f"Bearer {new}"})
    assert old_use.status_code == 401
    assert new_use.status_code == 200


async def test_others_keys_and_read_only_users_are_refused(app: Any, running: Any) -> None:
    from .conftest import browser

    async with running(app) as owner, browser(app) as other, browser(app) as reader:
        csrf = await signed_in(owner, app, "own")
        key_id, _ = await new_key(owner, csrf)
        other_csrf = await signed_in(other, app, "oth")
        peek = await other.get(f"{KEYS}/{key_id}")
        change = await other.post(f"{KEYS}/{key_id}", data=edit_form(other_csrf))
        regen = await other.post(f"{KEYS}/{key_id}/regenerate", data={"_csrf": other_csrf})
        reader_csrf = await signed_in(reader, app, "rdr", role="read_only")
        listing = await reader.get(KEYS)
        attempt = await reader.post(f"{KEYS}/{key_id}", data=edit_form(reader_csrf))
        (stored,) = await api_keys(owner)
    assert peek.status_code == change.status_code == regen.status_code == 404
    assert 'id="edit-key"' not in listing.text
    assert attempt.status_code in (403, 404)
    assert stored["name"] == "edit-me"
