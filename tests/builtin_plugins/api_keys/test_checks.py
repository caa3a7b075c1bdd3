"""Scope and IP restrictions of keys, checked after authentication on the public surface."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from builtin_plugins.api_keys.checks import KeyRestrictionsCheck

MODELS = "/api/v1/probe/models"
CHAT = "/api/v1/probe/chat"
WHOAMI = "/api/v1/probe/whoami"


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


def test_the_check_runs_after_authentication_on_the_public_surface() -> None:
    check = KeyRestrictionsCheck(kernel=None)  # type: ignore[arg-type]
    assert (check.phase, check.order, check.surfaces) == ("post_auth", 10, frozenset({"public"}))


async def test_a_route_scope_needs_the_key_to_carry_it(
    make_app: Any, running: Any, new_key: Any, probe: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        chat_only, record = await new_key(app, scopes=["chat.completions"])
        headers = {"X-API-Key": chat_only}
        assert (await client.get(CHAT, headers=headers)).status_code == 200
        assert (await client.get(WHOAMI, headers=headers)).status_code == 200  # needs no scope
        error = error_of(await client.get(MODELS, headers=headers), 403)
        assert error == {
            "message": "This API key does not have the 'models.list' scope.",
            "type": "permission_error",
            "param": None,
            "code": "insufficient_scope",
        }
        every_scope, _ = await new_key(app)
        for path in (CHAT, MODELS):
            assert (await client.get(path, headers={"X-API-Key": every_scope})).status_code == 200
        no_scope, no_scope_record = await new_key(app, scopes=[])
        error_of(await client.get(CHAT, headers={"X-API-Key": no_scope}), 403)
    denied = [e for e in probe.events if e.action == "api_key.denied"]
    assert [(e.outcome, e.resource_id, e.details) for e in denied] == [
        ("denied", record.id, {"reason": "insufficient_scope", "scope": "models.list"}),
        (
            "denied",
            no_scope_record.id,
            {"reason": "insufficient_scope", "scope": "chat.completions"},
        ),
    ]


@pytest.mark.parametrize(
    ("allowed", "inside", "outside"),
    [
        (["10.0.0.0/8"], "10.1.2.3", "192.168.1.1"),
        (["203.0.113.7"], "203.0.113.7", "203.0.113.8"),
        (["2001:db8::/32"], "2001:db8::5", "2001:db9::1"),
        (["2001:db8::/32", "10.0.0.0/8"], "::ffff:10.9.8.7", "::1"),
    ],
    ids=["v4-cidr", "v4-host", "v6-cidr", "v4-mapped-v6"],
)
async def test_allowed_ips_admit_only_their_networks(
    make_app: Any,
    running: Any,
    new_key: Any,
    client_from: Any,
    probe: Any,
    allowed: list[str],
    inside: str,
    outside: str,
) -> None:
    app = make_app()
    async with running(app):
        key, _ = await new_key(app, allowed_ips=allowed)
        async with client_from(app, inside) as client:
            assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 200
        async with client_from(app, outside) as client:
            error = error_of(await client.get(WHOAMI, headers={"X-API-Key": key}), 403)
            assert error["code"] == "ip_not_allowed"
        unrestricted, _ = await new_key(app)
        async with client_from(app, outside) as client:
            response = await client.get(WHOAMI, headers={"X-API-Key": unrestricted})
            assert response.status_code == 200
    denied = [e for e in probe.events if e.action == "api_key.denied"]
    assert [(e.ip, e.details["reason"]) for e in denied] == [(outside, "ip_not_allowed")]
