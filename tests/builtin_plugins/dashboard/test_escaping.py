"""XSS probe: ``<script>`` posted in every text field of every form (and every query field of
the filter forms) never comes back as markup, only escaped."""

from __future__ import annotations

import re
from typing import Any

import httpx

from .conftest import signed_in
from .test_key_edit import edit_form, new_key

PROBE = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;"
AUDIT_FIELDS = ("action", "actor_id", "resource_type", "resource_id", "ip", "since", "until")


def inert(response: httpx.Response, *, echoed: bool = True) -> None:
    assert PROBE not in response.text, response.request.url
    assert not re.search(r"<script>(?!\s*$)", response.text)  # no inline script at all
    if echoed:
        assert ESCAPED in response.text, (response.request.url, response.text[-2000:])


def budget(csrf: str, **fields: str) -> dict[str, str]:
    base = {"_csrf": csrf, "owner_type": "user", "limit": "1", "warning_percent": "80"}
    return {**base, "period": "monthly", **fields}


def posts(csrf: str, key_id: str) -> list[tuple[str, dict[str, str]]]:
    """(form address, fields with the probe in every text field) of each form."""
    key = f"/dashboard/keys/{key_id}"
    settings = {"public_per_minute": PROBE, "internal_per_minute": PROBE, "buckets": PROBE}
    user = {"email": PROBE, "password": "a long enough password 42"}
    return [
        (key, edit_form(csrf, name=PROBE)),
        (key, edit_form(csrf, allowed_models=PROBE, allowed_ips=PROBE)),
        (key, edit_form(csrf, rate_limit_per_minute=PROBE)),
        ("/dashboard/budgets", budget(csrf, owner_id=PROBE, name=PROBE)),
        ("/dashboard/budgets", budget(csrf, owner_id="x", limit=PROBE, warning_percent=PROBE)),
        ("/dashboard/budgets", budget(csrf, owner_type="api_key", owner_id=key_id, name=PROBE)),
        ("/dashboard/users", {"_csrf": csrf, **user}),
        ("/dashboard/plugins/rate_limit", {"_csrf": csrf, **settings}),
    ]


async def test_probe_is_inert_in_every_form(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "xss-admin", role="admin")
        client.follow_redirects = True  # a form that was accepted: its list shows the values
        key_id, _ = await new_key(client, csrf)
        answers = [await client.post(path, data=data) for path, data in posts(csrf, key_id)]
        answers += [
            await client.get(f"/dashboard/keys/{key_id}"),
            await client.get("/dashboard/budgets"),
            await client.get("/dashboard/audit", params=dict.fromkeys(AUDIT_FIELDS, PROBE)),
            await client.get("/dashboard/audit", params={"resource_id": PROBE}),
            await client.get("/dashboard/attestation", params={"provider": PROBE, "model": PROBE}),
        ]
        usage = await client.get("/dashboard/usage", params={"first": PROBE, "last": PROBE})
    for answer in answers:
        inert(answer)
    inert(usage, echoed=False)  # a date that is none is not shown back
