"""Refresh rotation, reuse detection, logout and password change, on one replica and two."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support.identity import admin_headers, create_user
from support.tcp_proxy import TcpProxy

API = "/api-internal/v1"
ME = f"{API}/auth/me"
REFRESH = f"{API}/auth/refresh"
PASSWORD = "correct horse battery staple"
SECRET = "replicas-share-this-secret-" + "x" * 40
GENERIC = {
    "message": "Invalid or expired token.",
    "type": "authentication_error",
    "param": None,
    "code": "invalid_token",
}


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def tokens(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post(f"{API}/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


def settings_for(make_settings: Any, url: str, kv: str, prefix: str, **env: str) -> Any:
    if kv == "redis":
        return make_settings(url, redis_prefix=prefix, ENCLAVA_AUTH_JWT_SECRET=SECRET, **env)
    return make_settings(url, ENCLAVA_AUTH_JWT_SECRET=SECRET, **env)


async def test_refresh_rotates_and_reuse_kills_the_family(
    make_settings: Any,
    make_app: Any,
    running: Any,
    database_url: str,
    kv_backend: str,
    redis_prefix: str,
    audit: Any,
) -> None:
    app = make_app(settings_for(make_settings, database_url, kv_backend, redis_prefix))
    async with running(app) as client:
        user_id = await create_user(app, "r@example.com", PASSWORD)
        first = await tokens(client, "r@example.com")
        rotated = await refresh(client, first["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert (await client.get(ME, headers=bearer(second))).status_code == 200
        third = (await refresh(client, second["refresh_token"])).json()
        assert (await client.get(ME, headers=bearer(third))).status_code == 200

        replay = await refresh(client, first["refresh_token"])  # rotated long ago: stolen?
        assert replay.status_code == 401
        assert replay.json() == {"error": GENERIC}
        # The whole family is dead: the newest refresh token and its access token too.
        newest = await refresh(client, third["refresh_token"])
        assert newest.status_code == 401
        assert newest.json() == {"error": GENERIC}
        assert (await client.get(ME, headers=bearer(third))).status_code == 401
        assert (await client.get(ME, headers=bearer(second))).status_code == 401
        # Other sessions of the same user live on.
        other = await tokens(client, "r@example.com")
        assert (await client.get(ME, headers=bearer(other))).status_code == 200
        assert (await refresh(client, other["refresh_token"])).status_code == 200
    reuse = [e for e in audit.events if e.action == "auth.token_reuse"]
    assert [(e.outcome, e.resource_id, e.details["reason"]) for e in reuse] == [
        ("denied", user_id, "reused"),
        ("denied", user_id, "revoked"),
    ]
    assert audit.actions().count(("auth.refresh", "success")) == 3


async def test_concurrent_refreshes_with_one_token_exactly_one_wins(
    make_settings: Any,
    make_app: Any,
    running: Any,
    sqlite_url: str,
    postgres_url: str,
    kv_backend: str,
    redis_prefix: str,
) -> None:
    url = sqlite_url if kv_backend == "memory" else postgres_url
    if kv_backend == "redis":
        app_a = make_app(settings_for(make_settings, url, "redis", redis_prefix))
        app_b = make_app(settings_for(make_settings, url, "redis", redis_prefix))
    else:
        app_a = app_b = make_app(settings_for(make_settings, url, "memory", ""))
    async with running(app_a) as a:
        await create_user(app_a, "c@example.com", PASSWORD)
        pair = await tokens(a, "c@example.com")
        if app_b is app_a:
            answers = await asyncio.gather(*(refresh(a, pair["refresh_token"]) for _ in range(8)))
        else:
            async with running(app_b) as b:
                answers = await asyncio.gather(
                    *(refresh((a, b)[i % 2], pair["refresh_token"]) for i in range(8))
                )
        assert sorted(r.status_code for r in answers) == [200] + [401] * 7
        # The losers presented a used token: reuse detection ends the family, winner included.
        (winner,) = [r.json() for r in answers if r.status_code == 200]
        assert (await refresh(a, winner["refresh_token"])).status_code == 401


async def test_logout_is_honoured_by_every_replica(
    make_settings: Any,
    make_app: Any,
    running: Any,
    database_url: str,
    redis_prefix: str,
    audit: Any,
) -> None:
    app_a = make_app(settings_for(make_settings, database_url, "redis", redis_prefix))
    app_b = make_app(settings_for(make_settings, database_url, "redis", redis_prefix))
    async with running(app_a) as a, running(app_b) as b:
        await create_user(app_a, "l@example.com", PASSWORD)
        pair = await tokens(a, "l@example.com")
        assert (await b.get(ME, headers=bearer(pair))).status_code == 200
        out = await a.post(f"{API}/auth/logout", headers=bearer(pair))
        assert out.status_code == 200
        assert out.json() == {"logged_out": True, "refresh_family_revoked": False}
        response = await b.get(ME, headers=bearer(pair))
        assert response.status_code == 401
        assert response.json() == {"error": GENERIC}
        # Without the refresh token the family survives; with it, it does not.
        assert (await refresh(b, pair["refresh_token"])).status_code == 200
        second = await tokens(b, "l@example.com")
        out = await b.post(
            f"{API}/auth/logout",
            headers=bearer(second),
            json={"refresh_token": second["refresh_token"]},
        )
        assert out.json() == {"logged_out": True, "refresh_family_revoked": True}
        assert (await refresh(a, second["refresh_token"])).status_code == 401
        assert (await a.get(ME, headers=bearer(second))).status_code == 401
    assert audit.actions().count(("auth.logout", "success")) == 2


async def test_logout_ignores_someone_elses_refresh_token(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        await create_user(app, "m@example.com", PASSWORD)
        await create_user(app, "n@example.com", PASSWORD)
        mine = await tokens(client, "m@example.com")
        theirs = await tokens(client, "n@example.com")
        out = await client.post(
            f"{API}/auth/logout",
            headers=bearer(mine),
            json={"refresh_token": theirs["refresh_token"]},
        )
        assert out.json()["refresh_family_revoked"] is False
        assert (await refresh(client, theirs["refresh_token"])).status_code == 200
        bad_body = await client.post(
            f"{API}/auth/logout",
            headers=bearer(theirs),
            content=b"[",
        )
        assert bad_body.status_code == 400


async def test_change_password_ends_every_old_session(
    make_settings: Any,
    make_app: Any,
    running: Any,
    database_url: str,
    redis_prefix: str,
    audit: Any,
) -> None:
    app_a = make_app(settings_for(make_settings, database_url, "redis", redis_prefix))
    app_b = make_app(settings_for(make_settings, database_url, "redis", redis_prefix))
    async with running(app_a) as a, running(app_b) as b:
        await create_user(app_a, "p@example.com", PASSWORD)
        laptop = await tokens(a, "p@example.com")
        phone = await tokens(b, "p@example.com")
        change = f"{API}/auth/change-password"
        wrong = await a.post(
            change,
            headers=bearer(laptop),
            json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
        )
        assert (wrong.status_code, wrong.json()["error"]["param"]) == (400, "current_password")
        short = await a.post(
            change,
            headers=bearer(laptop),
            json={"current_password": PASSWORD, "new_password": "short"},
        )
        assert (short.status_code, short.json()["error"]["param"]) == (400, "new_password")
        same = await a.post(
            change,
            headers=bearer(laptop),
            json={"current_password": PASSWORD, "new_password": PASSWORD},
        )
        assert same.status_code == 400
        new_password = "a brand new passphrase"
        changed = await a.post(
            change,
            headers=bearer(laptop),
            json={"current_password": PASSWORD, "new_password": new_password},
        )
        assert changed.status_code == 200, changed.text
        fresh = changed.json()
        assert fresh["force_password_change"] is False
        for old in (laptop, phone):
            for client in (a, b):
                assert (await client.get(ME, headers=bearer(old))).status_code == 401
            assert (await refresh(b, old["refresh_token"])).status_code == 401
        assert (await b.get(ME, headers=bearer(fresh))).status_code == 200
        assert (
            await a.post(f"{API}/auth/login", json={"email": "p@example.com", "password": PASSWORD})
        ).status_code == 401
        await tokens(b, "p@example.com", new_password)
    assert ("auth.password_change", "success") in audit.actions()
    assert ("auth.password_change", "failure") in audit.actions()


async def test_deactivated_users_tokens_stop_working_everywhere(
    make_settings: Any,
    make_app: Any,
    running: Any,
    database_url: str,
    redis_prefix: str,
) -> None:
    app_a = make_app(settings_for(make_settings, database_url, "redis", redis_prefix))
    app_b = make_app(settings_for(make_settings, database_url, "redis", redis_prefix))
    async with running(app_a) as a, running(app_b) as b:
        user_id = await create_user(app_a, "d@example.com", PASSWORD)
        pair = await tokens(b, "d@example.com")
        assert (await b.get(ME, headers=bearer(pair))).status_code == 200  # cached on b's KV
        admin = await admin_headers(app_a, a)
        off = await a.patch(f"{API}/users/{user_id}", headers=admin, json={"is_active": False})
        assert off.status_code == 200
        assert off.json()["is_active"] is False
        response = await b.get(ME, headers=bearer(pair))
        assert (response.status_code, response.json()) == (401, {"error": GENERIC})
        assert (await refresh(b, pair["refresh_token"])).status_code == 401
        on = await a.patch(f"{API}/users/{user_id}", headers=admin, json={"is_active": True})
        assert on.status_code == 200
        # Reactivation does not resurrect the old tokens (deactivation bumped the epoch).
        assert (await b.get(ME, headers=bearer(pair))).status_code == 401
        assert (
            await b.get(ME, headers=bearer(await tokens(b, "d@example.com")))
        ).status_code == 200


async def test_role_change_applies_to_live_tokens(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        user_id = await create_user(app, "promo@example.com", PASSWORD, "user")
        pair = await tokens(client, "promo@example.com")
        assert (await client.get(f"{API}/users", headers=bearer(pair))).status_code == 403
        admin = await admin_headers(app, client)
        await client.patch(f"{API}/users/{user_id}", headers=admin, json={"role": "admin"})
        assert (await client.get(f"{API}/users", headers=bearer(pair))).status_code == 200
        await client.patch(f"{API}/users/{user_id}", headers=admin, json={"role": "read_only"})
        assert (await client.get(f"{API}/users", headers=bearer(pair))).status_code == 403


async def test_unreachable_kv_fails_closed(
    make_settings: Any,
    make_app: Any,
    running: Any,
    sqlite_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    target = urlsplit(redis_url)
    if target.scheme != "redis":
        pytest.skip("the proxy forwards plain TCP only")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    userinfo = target.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    settings = make_settings(
        sqlite_url,
        redis_prefix=redis_prefix,
        ENCLAVA_REDIS_URL=target._replace(netloc=netloc).geturl(),
    )
    app = make_app(settings)
    try:
        async with running(app) as client:
            await create_user(app, "kv@example.com", PASSWORD)
            pair = await tokens(client, "kv@example.com")
            assert (await client.get(ME, headers=bearer(pair))).status_code == 200
            await proxy.stop()
            for method, path, kwargs in [
                ("GET", ME, {"headers": bearer(pair)}),
                ("POST", REFRESH, {"json": {"refresh_token": pair["refresh_token"]}}),
            ]:
                response = await client.request(method, path, **kwargs)
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "store_unavailable"
            await proxy.start()
            assert (await client.get(ME, headers=bearer(pair))).status_code == 200
    finally:
        await proxy.stop()
