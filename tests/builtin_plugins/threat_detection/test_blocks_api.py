"""Admins list and lift blocks; every replica sharing Redis sees the same blocks."""

from __future__ import annotations

from typing import Any

from support.identity import admin_headers, create_user, login

BLOCKS = "/api-internal/v1/security/blocks"
ATTACKER = "203.0.113.7"


async def test_admin_lists_and_lifts_a_block(
    make_app: Any, running: Any, client_at: Any, failed_logins: Any, audit_rows: Any
) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_IP="2")
    async with running(app) as client, client_at(app, ATTACKER) as attacker:
        await failed_logins(app, ATTACKER, 2)
        assert (await attacker.get("/api/v1/probe")).status_code == 403
        headers = await admin_headers(app, client)
        listed = (await client.get(BLOCKS, headers=headers)).json()
        assert [(b["ip"], b["reason"]) for b in listed["data"]] == [(ATTACKER, "failed_logins")]
        assert 890 <= listed["data"][0]["expires_in"] <= 900
        lifted = await client.delete(f"{BLOCKS}/{ATTACKER}", headers=headers)
        assert lifted.json() == {"ip": ATTACKER, "account": None, "unblocked": True}
        assert (await attacker.get("/api/v1/probe")).is_success
        assert (await client.get(BLOCKS, headers=headers)).json()["data"] == []
        again = await client.delete(f"{BLOCKS}/{ATTACKER}", headers=headers)
        assert again.status_code == 404
        bad = await client.delete(f"{BLOCKS}/not-an-ip", headers=headers)
        assert bad.json()["error"]["param"] == "ip"
        # Lifting resets the counters: one more failure does not re-block at once.
        await failed_logins(app, ATTACKER, 1)
        assert (await attacker.get("/api/v1/probe")).is_success
        unblocks = await audit_rows(app, "security.unblock")
    assert [(u.resource_type, u.resource_id, u.actor_type) for u in unblocks] == [
        ("ip", ATTACKER, "user")
    ]


async def test_blocks_are_shared_by_replicas(
    make_settings: Any,
    probe_app: Any,
    running: Any,
    client_at: Any,
    failed_logins: Any,
    postgres_url: str,
    redis_prefix: str,
) -> None:
    def replica() -> Any:
        env = {"ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_IP": "3"}
        return probe_app(make_settings(postgres_url, redis_prefix=redis_prefix, **env))

    app_a, app_b = replica(), replica()
    async with running(app_a), running(app_b) as admin_client:
        await failed_logins(app_a, ATTACKER, 2)
        await failed_logins(app_b, ATTACKER, 1)  # the count is shared too
        async with client_at(app_a, ATTACKER) as on_a, client_at(app_b, ATTACKER) as on_b:
            assert (await on_a.get("/api/v1/probe")).status_code == 403
            assert (await on_b.get("/api/v1/probe")).status_code == 403
            headers = await admin_headers(app_b, admin_client)
            listed = (await admin_client.get(BLOCKS, headers=headers)).json()["data"]
            assert [b["ip"] for b in listed] == [ATTACKER]
            assert (await admin_client.delete(f"{BLOCKS}/{ATTACKER}", headers=headers)).is_success
            assert (await on_a.get("/api/v1/probe")).is_success
            assert (await on_b.get("/api/v1/probe")).is_success


async def test_only_admins_see_or_lift_blocks(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        await create_user(app, "plain@example.com", "a-long-password-1", role="user")
        headers = await login(client, "plain@example.com", "a-long-password-1")
        assert (await client.get(BLOCKS, headers=headers)).status_code == 403
        assert (await client.delete(f"{BLOCKS}/{ATTACKER}", headers=headers)).status_code == 403
        assert (await client.get(BLOCKS)).status_code == 401
