"""Signing in through the dashboard is the internal API's login: audited with the browser's
address and rate-limited per address like any other client of ``/auth/login``."""

from __future__ import annotations

from typing import Any

from support.identity import admin_headers

from .conftest import browser, new_user, sign_in

LOGIN_BUCKET = 10
"""``[rate_limit] buckets.login``: sign-in attempts per minute and address (the default)."""


async def test_sign_in_is_audited_with_the_browsers_address(app: Any, running: Any) -> None:
    async with running(app) as client, browser(app, "203.0.113.7") as visitor:
        email = await new_user(app, "audited")
        assert (await sign_in(visitor, email)).status_code == 303
        assert (await sign_in(visitor, email, "wrong password")).status_code == 401
        headers = await admin_headers(app, client)
        found = await client.get(
            "/api-internal/v1/audit",
            params={"action": "auth.login", "ip": "203.0.113.7"},
            headers=headers,
        )
    assert found.status_code == 200, found.text
    outcomes = sorted(event["outcome"] for event in found.json()["data"])
    assert outcomes == ["failure", "success"]


async def test_sign_in_is_rate_limited_per_address(app: Any, running: Any) -> None:
    async with running(app), browser(app, "203.0.113.8") as visitor, browser(app) as other:
        statuses = [
            (await sign_in(visitor, f"nobody{n}@example.com", "guess")).status_code
            for n in range(LOGIN_BUCKET + 3)
        ]
        assert statuses[:LOGIN_BUCKET] == [401] * LOGIN_BUCKET
        # The bucket refills one attempt every 6 s: on a slow machine the attempts (each one
        # hashes a password) may earn one back before they run out.
        assert 429 in statuses[LOGIN_BUCKET : LOGIN_BUCKET + 2], statuses
        limited = await sign_in(visitor, "someone@example.com", "guess")
        assert limited.status_code == 429
        assert 'id="form-error"' in limited.text
        email = await new_user(app, "elsewhere")
        assert (await sign_in(other, email)).status_code == 303
