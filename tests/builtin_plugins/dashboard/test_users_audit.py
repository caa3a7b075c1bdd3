"""Users and the audit log through the real app: an admin creates a user and changes their role
and state, the API's refusals (demoting yourself) show on the page; the audit log filters and
pages, exports the same filter as CSV; users are refused both pages and every action."""

from __future__ import annotations

import re
from typing import Any

from .conftest import PASSWORD, browser, sign_in, signed_in

USERS = "/dashboard/users"
AUDIT = "/dashboard/audit"


async def test_admin_manages_users(app: Any, running: Any) -> None:
    async with running(app) as admin, browser(app) as newcomer:
        csrf = await signed_in(admin, app, "root", role="admin")
        created = await admin.post(
            USERS,
            data={
                "_csrf": csrf,
                "email": "new@example.com",
                "password": PASSWORD,
                "role": "read_only",
                "force_password_change": "on",
            },
        )
        assert created.status_code == 303, created.text
        page = await admin.get(USERS)
        row = page.text.split("new@example.com", 1)[1].split("</tr>", 1)[0]
        assert 'value="read_only" selected' in row
        user_id = re.findall(r'data-user-id="([^"]+)"', page.text)[-1]
        weak = await admin.post(
            USERS, data={"_csrf": csrf, "email": "weak@example.com", "password": "x"}
        )
        assert weak.status_code == 400
        assert 'id="password-error"' in weak.text
        assert 'value="weak@example.com"' in weak.text
        promoted = await admin.post(
            f"{USERS}/{user_id}", data={"_csrf": csrf, "role": "user", "is_active": "on"}
        )
        assert promoted.status_code == 303
        signed = await sign_in(newcomer, "new@example.com")
        assert signed.headers["location"] == "/dashboard"  # no forced change any more
        own_id = re.search(r'data-user-id="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        demote = await admin.post(
            f"{USERS}/{own_id}", data={"_csrf": csrf, "role": "user", "is_active": "on"}
        )
        assert demote.status_code == 403
        assert "can&#39;t change your own role" in demote.text
        deactivated = await admin.post(f"{USERS}/{user_id}", data={"_csrf": csrf, "role": "user"})
        assert deactivated.status_code == 303
        assert (await newcomer.get("/dashboard/")).status_code == 303  # session ended


async def test_audit_log_filters_pages_and_exports(app: Any, running: Any) -> None:
    async with running(app) as admin:
        await signed_in(admin, app, "aud", role="admin")
        for n in range(3):
            await sign_in(admin, f"ghost{n}@example.com", "wrong")
        await sign_in(admin, "aud@example.com")
        found = await admin.get(AUDIT, params={"action": "auth.login", "outcome": "failure"})
        bad = await admin.get(AUDIT, params={"action": "not an action!", "since": "yesterday"})
        csv = await admin.get(f"{AUDIT}/export", params={"action": "auth.login"})
    assert found.status_code == 200, found.text
    assert found.text.count("<code>auth.login</code>") >= 1
    assert 'value="auth.login"' in found.text
    assert "action=auth.login&amp;outcome=failure" in found.text
    assert bad.status_code == 400
    assert 'id="action-error"' in bad.text
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("id,")


async def test_users_are_refused(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "joe")
        users = await client.get(USERS)
        audit = await client.get(AUDIT)
        export = await client.get(f"{AUDIT}/export")
        create = await client.post(
            USERS, data={"_csrf": csrf, "email": "x@example.com", "password": PASSWORD}
        )
        nav = await client.get("/dashboard/")
    assert users.status_code == audit.status_code == export.status_code == 403
    assert create.status_code == 403
    for link in ('href="/dashboard/users"', 'href="/dashboard/audit"'):
        assert link not in nav.text
