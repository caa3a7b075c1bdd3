"""Login through the real app: tokens, one message for unknown email and wrong password,
lockout and unlock, inactive users, rehash on login, audit events."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import jwt
from support.identity import create_user, login

from builtin_plugins.auth.passwords import Passwords
from builtin_plugins.auth.users import get_user, get_user_by_email, update_user

API = "/api-internal/v1"
LOGIN = f"{API}/auth/login"
PASSWORD = "correct horse battery staple"
BAD_CREDENTIALS = {
    "message": "Incorrect email or password.",
    "type": "authentication_error",
    "param": None,
    "code": "invalid_credentials",
}


async def test_login_returns_a_token_pair(
    make_settings: Any, make_app: Any, running: Any, database_url: str, audit: Any
) -> None:
    app = make_app(make_settings(database_url))
    async with running(app) as client:
        user_id = await create_user(app, "Alice@Example.com", PASSWORD, "user")
        response = await client.post(
            LOGIN, json={"email": "alice@example.com", "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
            "force_password_change",
        }
        assert (body["token_type"], body["expires_in"], body["force_password_change"]) == (
            "bearer",
            900,
            False,
        )
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert set(claims) == {"sub", "role", "typ", "jti", "iat", "exp", "iss", "epoch"}
        assert (claims["sub"], claims["role"], claims["typ"], claims["iss"]) == (
            user_id,
            "user",
            "access",
            "enclava",
        )
        assert claims["exp"] - claims["iat"] == 900
        refresh = jwt.decode(body["refresh_token"], options={"verify_signature": False})
        assert refresh["typ"] == "refresh"
        assert refresh["fam"]
        assert refresh["exp"] - refresh["iat"] == 1_209_600
        me = await client.get(
            f"{API}/auth/me", headers={"Authorization": "Bearer " + body["access_token"]}
        )
        assert me.status_code == 200
        assert me.json()["email"] == "alice@example.com"
        assert "password_hash" not in me.text
    login_events = [e for e in audit.events if e.action == "auth.login"]
    assert [(e.outcome, e.actor_id, e.resource_id) for e in login_events] == [
        ("success", user_id, user_id)
    ]
    assert login_events[0].ip == "127.0.0.1"


async def test_unknown_email_and_wrong_password_look_the_same(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str, audit: Any
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        await create_user(app, "bob@example.com", PASSWORD)
        attempts = [
            {"email": "bob@example.com", "password": "wrong password!!"},
            {"email": "nobody@example.com", "password": "wrong password!!"},
            {"email": "not-an-email", "password": PASSWORD},
            {"email": "bob@example.com", "password": "x" * 2000},
        ]
        for payload in attempts:
            response = await client.post(LOGIN, json=payload)
            assert response.status_code == 401, payload
            assert response.json() == {"error": BAD_CREDENTIALS}
        missing = await client.post(LOGIN, json={"email": "bob@example.com"})
        assert missing.status_code == 400
    reasons = [e.details.get("reason") for e in audit.events if e.action == "auth.login"]
    assert reasons == ["bad_password", "unknown_email", "unknown_email", "password_too_long"]
    unknown = [e for e in audit.events if e.details.get("reason") == "unknown_email"]
    digest = hashlib.sha256(b"nobody@example.com").hexdigest()
    assert unknown[0].details["email_hash"] == digest
    assert unknown[0].resource_id is None
    assert "nobody@example.com" not in str(audit.events)
    assert all(PASSWORD not in str(e) and "wrong password" not in str(e) for e in audit.events)


async def test_lockout_after_repeated_failures_then_unlock(
    make_settings: Any, make_app: Any, running: Any, database_url: str, audit: Any
) -> None:
    settings = make_settings(
        database_url, ENCLAVA_AUTH_MAX_FAILED_LOGINS="3", ENCLAVA_AUTH_LOCKOUT_SECONDS="1"
    )
    app = make_app(settings)
    async with running(app) as client:
        await create_user(app, "carol@example.com", PASSWORD)
        wrong = {"email": "carol@example.com", "password": "not the password"}
        for _ in range(2):
            assert (await client.post(LOGIN, json=wrong)).json()["error"] == BAD_CREDENTIALS
        locking = await client.post(LOGIN, json=wrong)
        assert locking.status_code == 401
        error = locking.json()["error"]
        assert (error["type"], error["code"]) == ("authentication_error", "account_locked")
        assert "temporarily locked" in error["message"]
        right = {"email": "carol@example.com", "password": PASSWORD}
        still_locked = await client.post(LOGIN, json=right)
        assert still_locked.status_code == 401
        assert still_locked.json()["error"]["code"] == "account_locked"
        await asyncio.sleep(1.1)
        assert (await client.post(LOGIN, json=right)).status_code == 200
        # A success resets the count: the full allowance of failures is back.
        for _ in range(2):
            assert (await client.post(LOGIN, json=wrong)).json()["error"] == BAD_CREDENTIALS
        assert (await client.post(LOGIN, json=right)).status_code == 200
    assert ("auth.lockout", "denied") in audit.actions()
    assert ("auth.login", "denied") in audit.actions()


async def test_default_lockout_is_five_failures(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        await create_user(app, "dave@example.com", PASSWORD)
        wrong = {"email": "dave@example.com", "password": "not the password"}
        codes = [(await client.post(LOGIN, json=wrong)).json()["error"]["code"] for _ in range(5)]
        assert codes == ["invalid_credentials"] * 4 + ["account_locked"]
        user = await get_user_by_email(app.state.kernel.stores.db, "dave@example.com")
        assert user is not None
        assert user.locked_until is not None


async def test_inactive_user_cannot_log_in(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        user_id = await create_user(app, "erin@example.com", PASSWORD)
        await update_user(app.state.kernel.stores.db, user_id, is_active=False)
        response = await client.post(
            LOGIN, json={"email": "erin@example.com", "password": PASSWORD}
        )
        assert response.status_code == 401
        assert response.json() == {"error": BAD_CREDENTIALS}


async def test_weak_hash_is_upgraded_on_login(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str, audit: Any
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        db = app.state.kernel.stores.db
        user_id = await create_user(app, "frank@example.com", PASSWORD)
        weak = Passwords(time_cost=1, memory_kib=8192).hash(PASSWORD)
        await update_user(db, user_id, password_hash=weak)
        await login(client, "frank@example.com", PASSWORD)
        user = await get_user(db, user_id)
        assert user is not None
        assert user.password_hash != weak
        assert user.password_hash.startswith("$argon2id$")
        assert not Passwords().needs_rehash(user.password_hash)
        await login(client, "frank@example.com", PASSWORD)
    rehashed = [e.details["rehashed"] for e in audit.events if e.action == "auth.login"]
    assert rehashed == [True, False]
