"""A flood of invalid API keys from one IP blocks that IP."""

from __future__ import annotations

import secrets
from typing import Any

ATTACKER = "203.0.113.99"


def _bogus_key() -> dict[str, str]:
    return {"authorization": f"Bearer en_{secrets.token_urlsafe(30)}"}


async def test_invalid_key_flood_blocks_the_ip(
    make_app: Any, running: Any, client_at: Any, audit_rows: Any
) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_INVALID_KEYS_PER_IP="4")
    async with running(app) as client, client_at(app, ATTACKER) as attacker:
        for _ in range(4):
            refused = await attacker.get("/api/v1/probe", headers=_bogus_key())
            assert refused.status_code == 401
        blocked = await attacker.get("/api/v1/probe")
        assert blocked.status_code == 403
        assert blocked.json()["error"]["code"] == "ip_blocked"
        assert (await client.get("/api/v1/probe")).is_success
        invalid = await audit_rows(app, "api_key.invalid", ip=ATTACKER)
        decisions = await audit_rows(app, "security.*")
    assert len(invalid) == 4
    assert [(d.action, d.resource_id, d.details["reason"]) for d in decisions] == [
        ("security.ip_blocked", ATTACKER, "invalid_api_keys")
    ]


async def test_invalid_keys_below_the_threshold_do_not_block(
    make_app: Any, running: Any, client_at: Any
) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_INVALID_KEYS_PER_IP="10")
    async with running(app), client_at(app, ATTACKER) as attacker:
        for _ in range(9):
            await attacker.get("/api/v1/probe", headers=_bogus_key())
        assert (await attacker.get("/api/v1/probe")).is_success
