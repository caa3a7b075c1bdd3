"""The attestation page through a served gateway in front of both simulated providers: every
model's full verdict for any user; for admins the history, the trust policy beside the values
presented now, and re-verification (refused to others by the API)."""

from __future__ import annotations

from typing import Any

import pytest
from support.gateway import Gateway, gateway_factory

from .conftest import csrf_of
from .test_overview import signed_in_client

PAGE = "/dashboard/attestation"


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    return gateway_factory(make_settings, sqlite_url)


async def test_verdicts_history_and_trust(gateway: Gateway) -> None:
    async with gateway() as env:
        async with signed_in_client(env, "att", "admin") as admin:
            page = await admin.get(PAGE)
            again = await admin.post(f"{PAGE}/reverify", data={"_csrf": csrf_of(page)})
            history = await admin.get(PAGE)
            bearer = {"Authorization": f"Bearer {admin.cookies['enclava_session']}"}
            rule = {"provider": "redpill", "workloads": [{"mr_td": "ab" * 48, "note": "<b>x</b>"}]}
            added = await admin.post(
                "/api-internal/v1/attestation/trust", json=rule, headers=bearer
            )
            assert added.status_code == 201, added.text
            trusted = await admin.get(PAGE)
        async with signed_in_client(env, "plain") as user:
            own = await user.get(PAGE)
            refused = await user.post(f"{PAGE}/reverify", data={"_csrf": csrf_of(own)})
    assert page.status_code == 200, page.text
    for provider in ("privatemode", "redpill"):
        assert f'data-provider="{provider}"' in page.text
    assert "<dt>Signing key</dt>" in page.text
    assert "Full verdict" in page.text
    assert 'id="attestation-history"' in page.text
    assert "Trust policy" in page.text
    assert again.status_code == 303
    assert history.text.count("<tr><td>") >= 1
    rule_view = trusted.text.split('class="trust-rule"', 1)[1]
    assert "mr_td=" + "ab" * 48 in rule_view
    assert "&lt;b&gt;x&lt;/b&gt;" in rule_view
    assert "on redpill" in rule_view
    assert "#1 differs" in rule_view
    assert 'data-provider="redpill"' in own.text
    assert 'id="attestation-history"' not in own.text
    assert "Trust policy" not in own.text
    assert refused.status_code == 403
