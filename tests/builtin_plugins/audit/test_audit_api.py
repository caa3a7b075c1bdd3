"""``GET /api-internal/v1/audit``: events written through the kernel, searched by admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from support.identity import admin_headers, create_user, login

from kernel.types import AuditEvent

AUDIT = "/api-internal/v1/audit"


async def _emit(app: Any, action: str, **fields: Any) -> None:
    await app.state.kernel.audit(AuditEvent(action=action, **{"outcome": "success", **fields}))


async def test_event_written_through_the_kernel_is_queryable(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        headers = await admin_headers(app, client)
        await _emit(
            app,
            "demo.widget_create",
            actor_type="user",
            actor_id="u_1",
            resource_type="widget",
            resource_id="w_1",
            ip="192.0.2.1",
            request_id="req_1",
            details={"size": 3, "password": "hunter2"},
        )
        body = (
            await client.get(AUDIT, params={"action": "demo.widget_create"}, headers=headers)
        ).json()
    assert (body["total"], body["limit"], body["offset"], body["next_cursor"]) == (1, 50, 0, None)
    event = body["data"][0]
    occurred = datetime.fromisoformat(event.pop("occurred_at"))
    assert abs(datetime.now(UTC) - occurred) < timedelta(minutes=1)
    assert isinstance(event.pop("id"), int)
    assert event == {
        "action": "demo.widget_create",
        "outcome": "success",
        "actor_type": "user",
        "actor_id": "u_1",
        "resource_type": "widget",
        "resource_id": "w_1",
        "ip": "192.0.2.1",
        "request_id": "req_1",
        "details": {"size": 3},
    }


async def _seed(app: Any) -> None:
    await _emit(app, "demo.login", outcome="failure", ip="192.0.2.1", actor_id="u_1")
    await _emit(app, "demo.login", outcome="failure", ip="192.0.2.2", actor_id="u_1")
    await _emit(app, "demo.login", outcome="success", ip="192.0.2.1", actor_id="u_1")
    await _emit(app, "demo.key.create", actor_id="u_2", resource_type="key", resource_id="k_1")
    await _emit(app, "demo.key.revoke", actor_id="u_2", resource_type="key", resource_id="k_1")
    await _emit(app, "demox.other", outcome="denied")
    await _emit(app, "deto.other")


FILTER_CASES: list[tuple[dict[str, str], int]] = [
    ({"action": "demo.login"}, 3),
    ({"action": "demo.*"}, 5),
    ({"action": "demo.key.*"}, 2),
    ({"action": "de_o.*"}, 0),  # "_" is literal, not a LIKE wildcard
    ({"action": "demo.*", "outcome": "failure"}, 2),
    ({"outcome": "denied"}, 1),
    ({"actor_id": "u_2"}, 2),
    ({"resource_type": "key", "resource_id": "k_1"}, 2),
    ({"ip": "192.0.2.1", "action": "demo.*"}, 2),
]


async def test_filters(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        headers = await admin_headers(app, client)
        await _seed(app)
        for params, expected in FILTER_CASES:
            body = (await client.get(AUDIT, params=params, headers=headers)).json()
            assert (params, body["total"], len(body["data"])) == (params, expected, expected)
            for event in body["data"]:
                assert all(event[k] == v for k, v in params.items() if k != "action")


async def test_time_window_and_paging(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        headers = await admin_headers(app, client)
        await _seed(app)
        now = datetime.now(UTC)
        everything = {"action": "demo.*"}

        async def ids(**params: Any) -> list[int]:
            body = (
                await client.get(AUDIT, params={**everything, **params}, headers=headers)
            ).json()
            return [event["id"] for event in body["data"]]

        newest_first = await ids()
        assert newest_first == sorted(newest_first, reverse=True)
        assert await ids(since=(now - timedelta(minutes=5)).isoformat()) == newest_first
        assert await ids(since=(now + timedelta(minutes=5)).isoformat()) == []
        assert (
            await ids(until=(now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")) == []
        )
        assert await ids(limit=2) == newest_first[:2]
        assert await ids(limit=2, offset=2) == newest_first[2:4]
        walked: list[int] = []
        cursor: str | None = None
        while True:
            params = {**everything, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(AUDIT, params=params, headers=headers)).json()
            walked += [event["id"] for event in page["data"]]
            assert page["total"] == 5
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert walked == newest_first


BAD_PARAMETERS: list[tuple[dict[str, str], str]] = [
    ({"limit": "0"}, "limit"),
    ({"limit": "501"}, "limit"),
    ({"offset": "-1"}, "offset"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-01"}, "until"),
    ({"outcome": "maybe"}, "outcome"),
    ({"action": "AUTH LOGIN"}, "action"),
    ({"cursor": "abc"}, "cursor"),
    ({"cursor": "10", "offset": "5"}, "offset"),
    ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
]


async def test_bad_parameters_are_400(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        headers = await admin_headers(app, client)
        for params, param in BAD_PARAMETERS:
            response = await client.get(AUDIT, params=params, headers=headers)
            error = response.json()["error"]
            assert (response.status_code, error["type"], error["param"]) == (
                400,
                "invalid_request_error",
                param,
            ), params


async def test_only_admins_read_the_audit_log(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        await create_user(app, "reader@example.com", "a-long-password-1", role="user")
        headers = await login(client, "reader@example.com", "a-long-password-1")
        for path in (AUDIT, f"{AUDIT}/export"):
            refused = await client.get(path, headers=headers)
            assert refused.status_code == 403
            assert refused.json()["error"]["type"] == "permission_error"
            assert (await client.get(path)).status_code == 401
