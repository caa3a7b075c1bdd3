"""Failed logins block the IP they come from, and flag the account they target."""

from __future__ import annotations

import asyncio
from typing import Any

from support.identity import admin_headers, create_user, login

from builtin_plugins.auth.login import email_hash

LOGIN = "/api-internal/v1/auth/login"
ATTACKER = "203.0.113.7"


def _bad(email: str = "nobody@example.com") -> dict[str, str]:
    return {"email": email, "password": "not-the-password-1"}


async def test_failed_logins_from_one_ip_block_it_everywhere_but_health(
    make_app: Any, running: Any, client_at: Any, audit_rows: Any
) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_IP="3")
    async with running(app) as client, client_at(app, ATTACKER) as attacker:
        for _ in range(3):
            assert (await attacker.post(LOGIN, json=_bad())).status_code == 401
        refused = await attacker.post(LOGIN, json=_bad())
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["type"] == "permission_error"
        assert error["code"] == "ip_blocked"
        assert "temporarily" in error["message"]
        for path in ("/api/v1/probe", "/api-internal/v1/probe"):
            assert (await attacker.get(path)).json()["error"]["code"] == "ip_blocked"
        assert (await attacker.get("/health/live")).status_code == 200
        assert (await client.get("/api/v1/probe")).json() == {"ok": True}
        blocked = await audit_rows(app, "security.ip_blocked")
    assert len(blocked) == 1
    assert blocked[0].resource_type == "ip"
    assert blocked[0].resource_id == ATTACKER
    assert blocked[0].actor_type == "system"
    assert blocked[0].details == {
        "reason": "failed_logins",
        "block_seconds": 900,
        "count": 3,
        "window_seconds": 600,
    }


async def test_block_expires_after_block_seconds(
    make_app: Any, running: Any, client_at: Any, failed_logins: Any
) -> None:
    app = make_app(
        ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_IP="2",
        ENCLAVA_THREAT_DETECTION_BLOCK_SECONDS="1",
    )
    async with running(app), client_at(app, ATTACKER) as attacker:
        await failed_logins(app, ATTACKER, 2)
        assert (await attacker.get("/api/v1/probe")).status_code == 403
        await asyncio.sleep(1.3)
        assert (await attacker.get("/api/v1/probe")).json() == {"ok": True}


async def test_credential_stuffing_flags_the_account_across_ips(
    make_app: Any, running: Any, client_at: Any, audit_rows: Any
) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_ACCOUNT="3")
    email, password = "victim@example.com", "the-right-password-1"
    async with running(app) as client:
        user_id = await create_user(app, email, password)
        for n in range(3):
            async with client_at(app, f"198.51.100.{n + 1}") as bot:
                assert (await bot.post(LOGIN, json=_bad(email))).status_code == 401
        async with client_at(app, "192.0.2.50") as other:
            refused = await other.post(LOGIN, json={"email": email, "password": password})
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "login_blocked"
            assert (await other.get("/api/v1/probe")).status_code == 200
        headers = await admin_headers(app, client)
        listed = (await client.get("/api-internal/v1/security/blocks", headers=headers)).json()
        assert [a["account"] for a in listed["accounts"]] == [user_id]
        lifted = await client.delete(
            f"/api-internal/v1/security/accounts/{user_id}", headers=headers
        )
        assert lifted.status_code == 200
        assert await login(client, email, password)
        flagged = await audit_rows(app, "security.account_flagged")
        refusals = await audit_rows(app, "security.login_blocked")
        unblocks = await audit_rows(app, "security.unblock", resource_type="account")
    assert [(e.resource_id, e.details["reason"]) for e in flagged] == [
        (user_id, "credential_stuffing")
    ]
    assert [e.resource_id for e in refusals] == [user_id]
    assert [e.resource_id for e in unblocks] == [user_id]


async def test_unknown_email_is_counted_by_its_hash(
    make_app: Any, running: Any, client_at: Any, audit_rows: Any
) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_ACCOUNT="2")
    async with running(app):
        for n in range(2):
            async with client_at(app, f"198.51.100.{n + 10}") as bot:
                assert (await bot.post(LOGIN, json=_bad("Ghost@Example.com"))).status_code == 401
        async with client_at(app, "192.0.2.60") as client:
            refused = await client.post(LOGIN, json=_bad(" ghost@example.com"))
            assert refused.json()["error"]["code"] == "login_blocked"
            assert (await client.post(LOGIN, json=_bad("other@example.com"))).status_code == 401
        flagged = await audit_rows(app, "security.account_flagged")
    assert [e.resource_id for e in flagged] == [email_hash("ghost@example.com")]


async def test_allowlisted_ip_is_never_blocked(
    make_app: Any, running: Any, client_at: Any, failed_logins: Any, audit_rows: Any
) -> None:
    app = make_app(
        ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_IP="2",
        ENCLAVA_THREAT_DETECTION_ALLOWLIST_IPS="10.0.0.0/8, 2001:db8::/32",
    )
    async with running(app):
        for ip in ("10.1.2.3", "2001:db8::7"):
            await failed_logins(app, ip, 5)
            async with client_at(app, ip) as checker:
                assert (await checker.get("/api/v1/probe")).status_code == 200
        assert await audit_rows(app, "security.ip_blocked") == []


async def test_disabled_checks_do_not_count(
    make_app: Any, running: Any, client_at: Any, failed_logins: Any
) -> None:
    app = make_app(
        ENCLAVA_THREAT_DETECTION_CHECKS="header_anomalies",
        ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_IP="1",
    )
    async with running(app), client_at(app, ATTACKER) as attacker:
        await failed_logins(app, ATTACKER, 3)
        assert (await attacker.get("/api/v1/probe")).status_code == 200
        scanner = {"user-agent": "sqlmap/1.7"}
        assert (await attacker.get("/api/v1/probe", headers=scanner)).status_code == 200
