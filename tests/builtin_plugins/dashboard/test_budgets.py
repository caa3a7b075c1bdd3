"""Budgets through the real app: an admin creates and edits one from the dashboard (amounts in
the currency, the owner by email), every user sees the budgets on them with a spend bar, a user
cannot create or change one whatever the form sends, and bad values show next to their field."""

from __future__ import annotations

import re
from typing import Any

from .conftest import browser, signed_in

BUDGETS = "/dashboard/budgets"
_ID = re.compile(r'data-budget-id="([0-9a-zA-Z_-]+)"')


def budget(csrf: str, **fields: str) -> dict[str, str]:
    base = {
        "_csrf": csrf,
        "owner_type": "user",
        "owner_id": "bud@example.com",
        "name": "monthly cap",
        "limit": "12.5",
        "period": "monthly",
        "warning_percent": "80",
        "hard": "on",
    }
    return {**base, **fields}


async def test_admin_creates_and_edits_a_budget(app: Any, running: Any) -> None:
    async with running(app) as admin, browser(app) as user:
        await signed_in(user, app, "bud")
        csrf = await signed_in(admin, app, "boss", role="admin")
        page = await admin.get(BUDGETS)
        assert 'id="create-budget"' in page.text
        created = await admin.post(BUDGETS, data=budget(csrf))
        assert created.status_code == 303, created.text
        listing = await admin.get(BUDGETS)
        budget_id = _ID.search(listing.text).group(1)  # type: ignore[union-attr]
        assert "bud@example.com" in listing.text
        assert "<meter" in listing.text
        assert "0.0000 / 12.5000" in listing.text
        edit = await admin.get(f"{BUDGETS}/{budget_id}")
        assert 'value="12.5000"' in edit.text
        saved = await admin.post(
            f"{BUDGETS}/{budget_id}",
            data={
                "_csrf": csrf,
                "name": "weekly cap",
                "limit": "3",
                "period": "weekly",
                "warning_percent": "",
            },
        )
        assert saved.status_code == 200
        assert 'id="saved"' in saved.text
        own = await user.get(BUDGETS)
        assert "weekly cap" in own.text
        assert "0.0000 / 3.0000" in own.text
        assert "soft" in own.text  # the box was not ticked
        assert 'id="create-budget"' not in own.text
        gone = await admin.post(f"{BUDGETS}/{budget_id}/delete", data={"_csrf": csrf})
        assert gone.status_code == 303
        assert "weekly cap" not in (await user.get(BUDGETS)).text


async def test_bad_values_show_next_to_their_field(app: Any, running: Any) -> None:
    async with running(app) as admin:
        csrf = await signed_in(admin, app, "boss2", role="admin")
        amount = await admin.post(BUDGETS, data=budget(csrf, owner_id="x", limit="lots"))
        nobody = await admin.post(BUDGETS, data=budget(csrf, owner_id="ghost@example.com"))
        percent = await admin.post(BUDGETS, data=budget(csrf, owner_id="x", warning_percent="500"))
    assert amount.status_code == 400
    assert 'id="limit-error"' in amount.text
    assert 'id="owner_id-error"' in nobody.text
    assert 'value="ghost@example.com"' in nobody.text  # the form keeps what was typed
    assert 'id="warning_percent-error"' in percent.text


async def test_users_cannot_create_or_change_budgets(app: Any, running: Any) -> None:
    async with running(app) as admin, browser(app) as user:
        admin_csrf = await signed_in(admin, app, "boss3", role="admin")
        csrf = await signed_in(user, app, "sly")
        await admin.post(BUDGETS, data=budget(admin_csrf, owner_id="sly@example.com"))
        budget_id = _ID.search((await user.get(BUDGETS)).text).group(1)  # type: ignore[union-attr]
        create = await user.post(BUDGETS, data=budget(csrf, owner_id="sly@example.com"))
        change = await user.post(
            f"{BUDGETS}/{budget_id}", data={"_csrf": csrf, "name": "mine", "limit": "999"}
        )
        delete = await user.post(f"{BUDGETS}/{budget_id}/delete", data={"_csrf": csrf})
        no_csrf = await admin.post(f"{BUDGETS}/{budget_id}/delete")
        page = await user.get(f"{BUDGETS}/{budget_id}")
    assert create.status_code == change.status_code == delete.status_code == 403
    assert no_csrf.status_code == 403
    assert 'id="edit-budget"' not in page.text
    assert "monthly cap" in page.text
