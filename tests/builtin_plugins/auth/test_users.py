"""Users API and role guard through the real app: admins create and manage users, users see only
themselves, super admins are protected, and ``force_password_change`` gates every other route."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import get, post
from support.identity import admin_headers, create_user, login

from kernel.hookspecs import hookimpl
from kernel.types import RouteSet

API = "/api-internal/v1"
PASSWORD = "correct horse battery staple"


async def _user(
    app: Any, client: httpx.AsyncClient, email: str, role: str
) -> tuple[str, dict[str, str]]:
    user_id = await create_user(app, email, PASSWORD, role)  # type: ignore[arg-type]
    return user_id, await login(client, email, PASSWORD)


async def test_admin_creates_lists_and_reads_users(
    make_settings: Any, make_app: Any, running: Any, database_url: str, audit: Any
) -> None:
    app = make_app(make_settings(database_url))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        created = []
        for i in range(3):
            response = await client.post(
                f"{API}/users",
                headers=admin,
                json={"email": f"New{i}@Example.com", "password": PASSWORD, "role": "read_only"},
            )
            assert response.status_code == 201, response.text
            body = response.json()
            assert set(body) == {
                "id",
                "email",
                "role",
                "is_active",
                "force_password_change",
                "locked_until",
                "created_at",
                "updated_at",
            }
            assert (body["email"], body["role"], body["is_active"]) == (
                f"new{i}@example.com",
                "read_only",
                True,
            )
            created.append(body["id"])
        duplicate = await client.post(
            f"{API}/users", headers=admin, json={"email": "new0@example.com", "password": PASSWORD}
        )
        assert (duplicate.status_code, duplicate.json()["error"]["type"]) == (409, "conflict_error")
        for payload, param in [
            ({"email": "x@example.com", "password": "short"}, "password"),
            ({"email": "x@example.com", "password": "p" * 1025}, "password"),
            ({"email": "nope", "password": PASSWORD}, "email"),
            ({"email": "x@example.com", "password": PASSWORD, "role": "god"}, "role"),
            ({"email": "x@example.com", "password": PASSWORD, "password_hash": "x"}, None),
        ]:
            response = await client.post(f"{API}/users", headers=admin, json=payload)
            assert response.status_code == 400, payload
            if param:
                assert response.json()["error"]["param"] == param, payload

        page = await client.get(f"{API}/users", headers=admin, params={"limit": 2, "offset": 1})
        assert page.status_code == 200
        body = page.json()
        assert (body["total"], body["limit"], body["offset"]) == (4, 2, 1)
        assert [u["id"] for u in body["data"]] == created[:2]
        assert "password_hash" not in page.text
        for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}):
            assert (await client.get(f"{API}/users", headers=admin, params=bad)).status_code == 400
        one = await client.get(f"{API}/users/{created[2]}", headers=admin)
        assert one.json()["email"] == "new2@example.com"
        assert (await client.get(f"{API}/users/nope", headers=admin)).status_code == 404
        # The new user can log in with the password the admin set.
        await login(client, "new1@example.com", PASSWORD)
    creates = [e for e in audit.events if e.action == "user.create"]
    assert [e.resource_id for e in creates] == created
    assert all(e.actor_type == "user" and e.actor_id for e in creates)


class NotesPlugin:
    """An internal route with no declared role: the defaults apply."""

    PLUGIN_NAME = "notes"

    @hookimpl
    def enclava_routes(self, kernel: Any) -> RouteSet:
        @get("/notes", sync_to_thread=False)
        def read() -> list[str]:
            return []

        @post("/notes", sync_to_thread=False)
        def write() -> dict[str, str]:
            return {"ok": "yes"}

        return RouteSet(internal=[read, write])


async def test_role_guard(make_settings: Any, make_app: Any, running: Any, sqlite_url: str) -> None:
    app = make_app(make_settings(sqlite_url), NotesPlugin())
    async with running(app) as client:
        reader_id, reader = await _user(app, client, "reader@example.com", "read_only")
        _, user = await _user(app, client, "user@example.com", "user")
        # read_only can read itself and its session, but write nothing beyond its own session.
        assert (await client.get(f"{API}/users/{reader_id}", headers=reader)).status_code == 200
        assert (await client.get(f"{API}/auth/me", headers=reader)).status_code == 200
        denied = await client.post(
            f"{API}/users", headers=reader, json={"email": "z@example.com", "password": PASSWORD}
        )
        assert (denied.status_code, denied.json()["error"]["type"]) == (403, "permission_error")
        assert denied.json()["error"]["message"] == "This action needs the 'admin' role."
        # Routes without a declared role: reads need read_only, writes need user.
        assert (await client.get(f"{API}/notes", headers=reader)).status_code == 200
        write = await client.post(f"{API}/notes", headers=reader)
        assert (write.status_code, write.json()["error"]["message"]) == (
            403,
            "This action needs the 'user' role.",
        )
        assert (await client.post(f"{API}/notes", headers=user)).status_code == 201
        # user is not an admin.
        for method, path in [
            ("GET", "/users"),
            ("POST", "/users"),
            ("PATCH", f"/users/{reader_id}"),
        ]:
            response = await client.request(method, f"{API}{path}", headers=user, json={})
            assert response.status_code == 403, (method, path)
        # Logout is open to read_only too.
        assert (await client.post(f"{API}/auth/logout", headers=reader)).status_code == 200
        assert (await client.get(f"{API}/auth/me", headers=reader)).status_code == 401
        # No credentials at all.
        assert (await client.get(f"{API}/users")).status_code == 401


async def test_users_see_only_themselves(
    make_settings: Any, make_app: Any, running: Any, database_url: str
) -> None:
    app = make_app(make_settings(database_url))
    async with running(app) as client:
        a_id, a = await _user(app, client, "a@example.com", "user")
        b_id, b = await _user(app, client, "b@example.com", "user")
        assert (await client.get(f"{API}/users/{a_id}", headers=a)).json()[
            "email"
        ] == "a@example.com"
        hidden = await client.get(f"{API}/users/{b_id}", headers=a)
        missing = await client.get(f"{API}/users/{'0' * 32}", headers=a)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"]["message"] == missing.json()["error"]["message"]
        assert (await client.get(f"{API}/users/{a_id}", headers=b)).status_code == 404


async def test_admin_limits_and_super_admin_protection(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str, audit: Any
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        admin_id, admin = await _user(app, client, "admin@example.com", "admin")
        root_id, root = await _user(app, client, "root@example.com", "super_admin")
        plain_id, _ = await _user(app, client, "plain@example.com", "user")

        def new(role: str, n: int) -> dict[str, Any]:
            return {"email": f"{role}{n}@example.com", "password": PASSWORD, "role": role}

        assert (
            await client.post(f"{API}/users", headers=admin, json=new("admin", 1))
        ).status_code == 201
        assert (
            await client.post(f"{API}/users", headers=admin, json=new("super_admin", 1))
        ).status_code == 403
        assert (
            await client.post(f"{API}/users", headers=root, json=new("super_admin", 2))
        ).status_code == 201

        async def patch(headers: dict[str, str], user_id: str, **body: Any) -> httpx.Response:
            return await client.patch(f"{API}/users/{user_id}", headers=headers, json=body)

        assert (await patch(admin, plain_id, role="admin")).json()["role"] == "admin"
        assert (await patch(admin, plain_id, role="user", force_password_change=True)).json()[
            "force_password_change"
        ] is True
        assert (await patch(admin, plain_id, role="super_admin")).status_code == 403
        assert (await patch(admin, root_id, is_active=False)).status_code == 403
        assert (await patch(admin, root_id, force_password_change=True)).status_code == 403
        own = await patch(admin, admin_id, role="super_admin")
        assert own.status_code == 403
        assert (await patch(admin, admin_id, role="user")).json()["error"]["message"] == (
            "You can't change your own role."
        )
        assert (await patch(admin, admin_id, is_active=False)).status_code == 403
        assert (await patch(root, root_id, role="admin")).status_code == 403
        assert (await patch(root, admin_id, role="super_admin")).json()["role"] == "super_admin"
        assert (await patch(admin, plain_id, password_hash="x")).status_code == 400
        assert (await patch(admin, plain_id, role="nope")).status_code == 400
        assert (await patch(admin, "0" * 32, role="user")).status_code == 404
        unchanged = await patch(root, plain_id)
        assert unchanged.status_code == 200
        assert "password_hash" not in unchanged.text
    updates = [e for e in audit.events if e.action == "user.update"]
    assert updates[0].details == {"changed": ["role"]}
    assert updates[0].actor_id == admin_id


async def test_force_password_change_blocks_everything_else_until_changed(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        admin = await admin_headers(app, client)
        created = await client.post(
            f"{API}/users",
            headers=admin,
            json={
                "email": "temp@example.com",
                "password": PASSWORD,
                "role": "admin",
                "force_password_change": True,
            },
        )
        user_id = created.json()["id"]
        login_body = (
            await client.post(
                f"{API}/auth/login", json={"email": "temp@example.com", "password": PASSWORD}
            )
        ).json()
        assert login_body["force_password_change"] is True
        headers = {"Authorization": f"Bearer {login_body['access_token']}"}
        for method, path in [
            ("GET", "/users"),
            ("GET", f"/users/{user_id}"),
            ("PATCH", f"/users/{user_id}"),
        ]:
            response = await client.request(method, f"{API}{path}", headers=headers, json={})
            assert response.status_code == 403, (method, path)
            error = response.json()["error"]
            assert (error["type"], error["code"]) == (
                "permission_error",
                "password_change_required",
            )
        me = await client.get(f"{API}/auth/me", headers=headers)
        assert me.json()["force_password_change"] is True
        changed = await client.post(
            f"{API}/auth/change-password",
            headers=headers,
            json={"current_password": PASSWORD, "new_password": "my very own passphrase"},
        )
        assert changed.status_code == 200
        fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
        assert (await client.get(f"{API}/users", headers=fresh)).status_code == 200
        assert (await client.get(f"{API}/auth/me", headers=fresh)).json()[
            "force_password_change"
        ] is False
        # An admin can require it again; it applies to the live token at once.
        await client.patch(
            f"{API}/users/{user_id}", headers=admin, json={"force_password_change": True}
        )
        blocked = await client.get(f"{API}/users", headers=fresh)
        assert blocked.json()["error"]["code"] == "password_change_required"
        assert (await client.post(f"{API}/auth/logout", headers=fresh)).status_code == 200
