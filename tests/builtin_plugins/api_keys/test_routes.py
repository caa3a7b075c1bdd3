"""``/api-internal/v1/api-keys`` through the real app, as logged-in users: the key is shown once,
validation names the field, changes apply at once, and users only ever see their own keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.identity import admin_headers, create_user, login

from builtin_plugins.api_keys.keys import PUBLIC_SCOPES

API = "/api-internal/v1/api-keys"
WHOAMI = "/api/v1/probe/whoami"
MODELS = "/api/v1/probe/models"
PASSWORD = "a long enough password 42"
VIEW_FIELDS = {
    "id",
    "name",
    "prefix",
    "owner_id",
    "scopes",
    "allowed_models",
    "allowed_ips",
    "allowed_chatbots",
    "allowed_collections",
    "required_region",
    "response_verification",
    "expires_at",
    "is_active",
    "revoked_at",
    "rate_limit_per_minute",
    "created_at",
    "updated_at",
    "last_used_at",
    "object",
}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


async def user_headers(app: Any, client: httpx.AsyncClient, name: str, role: str = "user") -> Any:
    email = f"{name}@example.com"
    await create_user(app, email, PASSWORD, role)  # type: ignore[arg-type]
    return await login(client, email, PASSWORD)


async def create(client: httpx.AsyncClient, headers: Any, **body: Any) -> dict[str, Any]:
    response = await client.post(API, json={"name": "k", **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_shows_the_key_once(make_app: Any, running: Any, probe: Any) -> None:
    app = make_app()
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        created = await create(client, alice, name="ci", allowed_models=["m1"])
        key = created.pop("key")
        assert re.fullmatch(r"en_[A-Za-z0-9_-]{40}", key)
        assert set(created) == VIEW_FIELDS
        assert created["prefix"] == f"{key[:15]}…"
        assert created["scopes"] == list(PUBLIC_SCOPES)
        assert created["required_region"] is None
        assert created["response_verification"] is None
        assert (created["is_active"], created["revoked_at"], created["last_used_at"]) == (
            True,
            None,
            None,
        )
        shown = await client.get(f"{API}/{created['id']}", headers=alice)
        listed = await client.get(API, headers=alice)
        for text in (shown.text, listed.text):
            assert key[3:] not in text
            assert "key_hash" not in text
        assert shown.json() == created
        assert listed.json()["data"] == [created]
        whoami = await client.get(WHOAMI, headers={"X-API-Key": key})
        assert whoami.json()["owner_id"] == created["owner_id"]
    [event] = [e for e in probe.events if e.action == "api_key.create"]
    assert (event.outcome, event.actor_type, event.resource_id) == (
        "success",
        "user",
        created["id"],
    )
    assert key[3:] not in repr(event)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
        ({"allowed_ips": ["not-an-ip"]}, "allowed_ips"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"owner_id": "someone"}, "owner_id"),
        ({"required_region": "EU"}, "required_region"),
        ({"required_region": ""}, "required_region"),
        ({"required_region": "eu west"}, "required_region"),
        ({"required_region": "e" * 17}, "required_region"),
        ({"required_region": 1}, "required_region"),
        ({"required_region": "mars"}, "required_region"),
        ({"response_verification": "off"}, "response_verification"),
    ],
    ids=[
        "cidr",
        "ip",
        "scope",
        "past",
        "rate",
        "empty-name",
        "blank-name",
        "unknown-field",
        "region-case",
        "region-empty",
        "region-space",
        "region-long",
        "region-type",
        "region-unknown",
        "verification-off",
    ],
)
async def test_create_validates_each_field(
    make_app: Any, running: Any, body: dict[str, Any], param: str
) -> None:
    app = make_app()
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        response = await client.post(API, json={"name": "k", **body}, headers=alice)
        error = error_of(response, 400)
        assert (error["type"], error["param"]) == ("invalid_request_error", param)
        assert (await client.get(API, headers=alice)).json()["total"] == 0


@pytest.mark.parametrize("policy", ["async", "strict_trailer", "strict"])
async def test_every_response_verification_policy_is_stored(
    make_app: Any, running: Any, policy: str
) -> None:
    app = make_app()
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        created = await create(client, alice, response_verification=policy)
        assert created["response_verification"] == policy
        again = await client.get(f"{API}/{created['id']}", headers=alice)
        assert again.json()["response_verification"] == policy


async def test_create_normalises_restrictions(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        expires = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
        created = await create(
            client,
            alice,
            scopes=["models.list", "models.list"],
            allowed_ips=["10.1.2.3/8", "2001:db8::1"],
            allowed_chatbots=["bot"],
            expires_at=expires.isoformat(),
            rate_limit_per_minute=30,
            required_region="us",
        )
        assert created["scopes"] == ["models.list"]
        assert created["allowed_ips"] == ["10.0.0.0/8", "2001:db8::1/128"]
        assert created["allowed_chatbots"] == ["bot"]
        assert datetime.fromisoformat(created["expires_at"]) == expires
        assert created["rate_limit_per_minute"] == 30
        assert created["required_region"] == "us"


async def test_update_applies_at_once(make_app: Any, running: Any, probe: Any) -> None:
    app = make_app(ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600")
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        created = await create(client, alice)
        key, url = {"X-API-Key": created["key"]}, f"{API}/{created['id']}"
        assert (await client.get(MODELS, headers=key)).status_code == 200  # now cached
        patch = {"name": "renamed", "scopes": ["chat.completions"], "rate_limit_per_minute": 5}
        response = await client.patch(url, json=patch, headers=alice)
        assert response.status_code == 200, response.text
        assert {k: response.json()[k] for k in patch} == patch
        assert error_of(await client.get(MODELS, headers=key), 403)["code"] == "insufficient_scope"
        attributes = (await client.get(WHOAMI, headers=key)).json()["attributes"]
        assert attributes["rate_limit_per_minute"] == 5
        response = await client.patch(url, json={"rate_limit_per_minute": None}, headers=alice)
        assert response.json()["rate_limit_per_minute"] is None
        assert response.json()["name"] == "renamed"
        await client.patch(url, json={"is_active": False}, headers=alice)
        error_of(await client.get(WHOAMI, headers=key), 401)
        await client.patch(url, json={"is_active": True}, headers=alice)
        assert (await client.get(WHOAMI, headers=key)).status_code == 200
        bad = await client.patch(url, json={"allowed_ips": ["999.1.1.1"]}, headers=alice)
        assert error_of(bad, 400)["param"] == "allowed_ips"
    updates = [e for e in probe.events if e.action == "api_key.update"]
    assert updates[0].details["fields"] == ["name", "rate_limit_per_minute", "scopes"]


async def test_required_region_changes_apply_at_once(make_app: Any, running: Any) -> None:
    app = make_app(ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600")
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        created = await create(client, alice, required_region="eu")
        key, url = {"X-API-Key": created["key"]}, f"{API}/{created['id']}"

        async def region_seen() -> Any:
            return (await client.get(WHOAMI, headers=key)).json()["required_region"]

        assert await region_seen() == "eu"  # now cached
        response = await client.patch(url, json={"required_region": "us"}, headers=alice)
        assert response.json()["required_region"] == "us"
        assert await region_seen() == "us"
        response = await client.patch(url, json={"name": "renamed"}, headers=alice)
        assert response.json()["required_region"] == "us"
        bad = await client.patch(url, json={"required_region": "US"}, headers=alice)
        assert error_of(bad, 400)["param"] == "required_region"
        response = await client.patch(url, json={"required_region": None}, headers=alice)
        assert response.json()["required_region"] is None
        assert await region_seen() is None
        shown = await client.get(url, headers=alice)
        assert shown.json()["required_region"] is None


async def test_revoke_restore_and_delete(make_app: Any, running: Any, probe: Any) -> None:
    app = make_app(ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600")
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        created = await create(client, alice)
        key, url = {"X-API-Key": created["key"]}, f"{API}/{created['id']}"
        assert (await client.get(WHOAMI, headers=key)).status_code == 200
        revoked = await client.post(f"{url}/revoke", headers=alice)
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        assert error_of(await client.get(WHOAMI, headers=key), 401)["code"] == "invalid_api_key"
        restored = await client.post(f"{url}/restore", headers=alice)
        assert restored.json()["revoked_at"] is None
        assert (await client.get(WHOAMI, headers=key)).status_code == 200
        assert (await client.delete(url, headers=alice)).status_code == 204
        error_of(await client.get(WHOAMI, headers=key), 401)
        error_of(await client.get(url, headers=alice), 404)
    assert probe.actions()[-5:] == [
        ("api_key.revoke", "success"),
        ("api_key.invalid", "failure"),
        ("api_key.restore", "success"),
        ("api_key.delete", "success"),
        ("api_key.invalid", "failure"),
    ]


async def test_regenerate_replaces_the_secret_and_keeps_the_settings(
    make_app: Any, running: Any, probe: Any
) -> None:
    app = make_app(ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600")
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        created = await create(client, alice, scopes=["models.list"], allowed_models=["m"])
        old = {"X-API-Key": created["key"]}
        assert (await client.get(WHOAMI, headers=old)).status_code == 200
        response = await client.post(f"{API}/{created['id']}/regenerate", headers=alice)
        assert response.status_code == 200, response.text
        renewed = response.json()
        new_key = renewed.pop("key")
        assert new_key != created["key"]
        assert renewed["prefix"] == f"{new_key[:15]}…" != created["prefix"]
        for field in ("id", "name", "scopes", "allowed_models", "owner_id"):
            assert renewed[field] == created[field]
        error_of(await client.get(WHOAMI, headers=old), 401)
        response = await client.get(WHOAMI, headers={"X-API-Key": new_key})
        assert response.json()["id"] == created["id"]
        shown = await client.get(f"{API}/{created['id']}", headers=alice)
        assert "key" not in shown.json()
    assert ("api_key.regenerate", "success") in probe.actions()


async def test_users_only_see_their_own_keys_and_admins_see_all(
    make_app: Any, running: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        bob = await user_headers(app, client, "bob")
        admin = await admin_headers(app, client)
        alices = await create(client, alice, name="alice's")
        bobs = await create(client, bob, name="bob's")
        url = f"{API}/{bobs['id']}"
        for response in (
            await client.get(url, headers=alice),
            await client.patch(url, json={"name": "mine"}, headers=alice),
            await client.post(f"{url}/revoke", headers=alice),
            await client.post(f"{url}/restore", headers=alice),
            await client.post(f"{url}/regenerate", headers=alice),
            await client.delete(url, headers=alice),
        ):
            assert error_of(response, 404)["message"] == f"No API key with id '{bobs['id']}'."
        assert (await client.get(WHOAMI, headers={"X-API-Key": bobs["key"]})).status_code == 200
        mine = await client.get(API, params={"owner_id": bobs["owner_id"]}, headers=alice)
        assert [k["id"] for k in mine.json()["data"]] == [alices["id"]]
        every = await client.get(API, headers=admin)
        assert {k["id"] for k in every.json()["data"]} == {alices["id"], bobs["id"]}
        only_bob = await client.get(API, params={"owner_id": bobs["owner_id"]}, headers=admin)
        assert [k["id"] for k in only_bob.json()["data"]] == [bobs["id"]]
        assert (await client.post(f"{url}/revoke", headers=admin)).status_code == 200
        error_of(await client.get(WHOAMI, headers={"X-API-Key": bobs["key"]}), 401)


async def test_listing_pages_and_read_only_users(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        ids = [(await create(client, alice, name=f"k{i}"))["id"] for i in range(3)]
        first = (await client.get(API, params={"limit": 2}, headers=alice)).json()
        second = (await client.get(API, params={"limit": 2, "offset": 2}, headers=alice)).json()
        assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
        assert {k["id"] for k in first["data"] + second["data"]} == set(ids)
        error_of(await client.get(API, params={"limit": 0}, headers=alice), 400)
        reader = await user_headers(app, client, "reader", role="read_only")
        assert (await client.get(API, headers=reader)).json()["total"] == 0
        error_of(await client.post(API, json={"name": "k"}, headers=reader), 403)
        error_of(await client.get(API), 401)


async def test_last_used_at_is_written_off_the_hot_path(
    make_app: Any, running: Any, make_settings: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        alice = await user_headers(app, client, "alice")
        created = await create(client, alice)
        for _ in range(3):
            await client.get(WHOAMI, headers={"X-API-Key": created["key"]})
    # Uses are noted in memory and written every few seconds and at shutdown.
    again = make_app()
    async with running(again) as client:
        alice = await login(client, "alice@example.com", PASSWORD)
        shown = await client.get(f"{API}/{created['id']}", headers=alice)
        used = datetime.fromisoformat(shown.json()["last_used_at"])
        assert datetime.now(UTC) - used < timedelta(minutes=1)
