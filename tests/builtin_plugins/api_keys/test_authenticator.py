"""The API key authenticator through the real app: both header styles, refused credentials,
keys in the query string, revocation, deactivation and expiry (also on cache hits)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from builtin_plugins.api_keys.keys import PUBLIC_SCOPES
from builtin_plugins.api_keys.store import update_key
from builtin_plugins.auth.models import users

WHOAMI = "/api/v1/probe/whoami"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


def reasons(probe: Any) -> list[str]:
    return [e.details["reason"] for e in probe.events if e.action == "api_key.invalid"]


def assert_never_logged(probe: Any, key: str) -> None:
    secret = key[3:]
    for event in probe.events:
        assert secret[12:] not in repr(event)
        assert key not in repr(event)


async def test_both_header_styles_authenticate(make_app: Any, running: Any, new_key: Any) -> None:
    app = make_app()
    async with running(app) as client:
        key, record = await new_key(app, rate_limit_per_minute=7, allowed_models=["m1"])
        assert re.fullmatch(r"en_[A-Za-z0-9_-]{40}", key)
        for headers in (bearer(key), {"X-API-Key": key}, {"authorization": f"bearer  {key} "}):
            response = await client.get(WHOAMI, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json() == {
                "kind": "api_key",
                "id": record.id,
                "owner_id": record.owner_id,
                "scopes": sorted(PUBLIC_SCOPES),
                "allowed_models": ["m1"],
                "required_region": None,
                "attributes": {
                    "key_prefix": key[3:15],
                    "rate_limit_per_minute": 7,
                    "allowed_chatbots": [],
                    "allowed_collections": [],
                    "allowed_ips": [],
                    "response_verification": None,
                },
            }


async def test_requests_without_an_en_credential_are_not_ours(
    make_app: Any, running: Any, probe: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        for headers in ({}, bearer("sk-something"), {"X-API-Key": "sk-other"}):
            error = error_of(await client.get(WHOAMI, headers=headers), 401)
            assert error["message"].startswith("You didn't provide valid credentials")
    assert reasons(probe) == []


async def test_bad_keys_get_401_and_an_audit_event_without_the_key(
    make_app: Any, running: Any, new_key: Any, probe: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        key, record = await new_key(app)
        wrong_secret = key[:15] + ("A" if key[15] != "A" else "B") + key[16:]
        unknown = "en_" + "x" * 40
        cases = [("en_short", "malformed"), (unknown, "unknown"), (wrong_secret, "mismatch")]
        for presented, reason in cases:
            error = error_of(await client.get(WHOAMI, headers=bearer(presented)), 401)
            assert error == {
                "message": "Incorrect API key provided.",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_api_key",
            }
            assert reasons(probe)[-1] == reason
        assert (await client.get(WHOAMI, headers=bearer(key))).status_code == 200
        # the right prefix with the wrong secret also fails once the key is cached
        error_of(await client.get(WHOAMI, headers={"X-API-Key": wrong_secret}), 401)
        assert reasons(probe)[-1] == "mismatch"
    invalid = [e for e in probe.events if e.action == "api_key.invalid"]
    assert {(e.outcome, e.ip) for e in invalid} == {("failure", "127.0.0.1")}
    assert invalid[-1].resource_id == record.id
    for presented in (key, wrong_secret, unknown):
        assert_never_logged(probe, presented)


async def test_keys_in_the_query_string_are_refused(
    make_app: Any, running: Any, new_key: Any, probe: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        key, _ = await new_key(app)
        for query in ({"api_key": key}, {"key": key}):
            response = await client.get(WHOAMI, params=query, headers=bearer(key))
            error = error_of(response, 401)
            assert error["code"] == "api_key_in_query"
            assert key not in error["message"]
        response = await client.get(f"{WHOAMI}?api%5Fkey={key}", headers=bearer(key))
        error_of(response, 401)
        ok = await client.get(WHOAMI, params={"key": "colour", "q": "x"}, headers=bearer(key))
        assert ok.status_code == 200
    assert set(reasons(probe)) == {"query_string"}
    assert_never_logged(probe, key)


async def test_revoked_inactive_and_orphaned_keys_fail(
    make_app: Any, running: Any, new_key: Any, probe: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        db = app.state.kernel.stores.db
        revoked, record = await new_key(app)
        await update_key(db, record.id, {"revoked_at": datetime.now(UTC)})
        inactive, record = await new_key(app)
        await update_key(db, record.id, {"is_active": False})
        orphaned, record = await new_key(app)
        async with db.session() as session:
            await session.execute(
                update(users).where(users.c.id == record.owner_id).values(is_active=False)
            )
        for key in (revoked, inactive, orphaned):
            error = error_of(await client.get(WHOAMI, headers=bearer(key)), 401)
            assert error["code"] == "invalid_api_key"
    assert reasons(probe) == ["revoked", "inactive", "owner_inactive"]


async def test_expired_keys_fail_also_when_cached(
    make_app: Any, running: Any, new_key: Any, probe: Any
) -> None:
    app = make_app(ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600")
    async with running(app) as client:
        soon = datetime.now(UTC) + timedelta(seconds=2.5)
        key, _ = await new_key(app, expires_at=soon)
        assert (await client.get(WHOAMI, headers=bearer(key))).status_code == 200
        await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 0.05)
        error = error_of(await client.get(WHOAMI, headers=bearer(key)), 401)
        assert error == {
            "message": "This API key has expired.",
            "type": "authentication_error",
            "param": None,
            "code": "api_key_expired",
        }
        stale, record = await new_key(app)
        await update_key(
            app.state.kernel.stores.db,
            record.id,
            {"expires_at": datetime.now(UTC) - timedelta(days=1)},
        )
        assert error_of(await client.get(WHOAMI, headers=bearer(stale)), 401)["code"] == (
            "api_key_expired"
        )
    assert reasons(probe) == ["expired", "expired"]


async def test_expired_status_is_not_revealed_without_the_secret(
    make_app: Any, running: Any, new_key: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        key, record = await new_key(app)
        await update_key(
            app.state.kernel.stores.db,
            record.id,
            {"expires_at": datetime.now(UTC) - timedelta(days=1)},
        )
        guess = key[:15] + ("A" if key[15] != "A" else "B") + key[16:]
        error = error_of(await client.get(WHOAMI, headers=bearer(guess)), 401)
        assert error["code"] == "invalid_api_key"
