"""The attestation page through a served gateway in front of both simulated providers: every
model's full verdict for any user; for admins the history, the trust policy beside the values
presented now, adding (prefilled with what a model presents) and removing run-time trust rules,
and re-verification (all refused to others by the API)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest
from support.gateway import Gateway, gateway_factory

from kernel.services import SimulatedTrust

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


_FIELD = r'id="f-{}" name="{}" type="text" value="([^"]*)"'
_FIELDS = ("provider", "models", "accepted_tcb_statuses", "mr_td", "rtmr0", "rtmr1", "rtmr2")
_MORE = ("rtmr3", "compose_hash", "app_id", "note")


def _form_values(page: httpx.Response) -> dict[str, str]:
    """The add-a-trust-rule form's fields as the page filled them."""
    found = {}
    for name in _FIELDS + _MORE:
        match = re.search(_FIELD.format(name, name), page.text)
        assert match, name
        found[name] = html.unescape(match.group(1))
    return found


async def _audited(client: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    bearer = {"Authorization": f"Bearer {client.cookies['enclava_session']}"}
    answer = await client.get("/api-internal/v1/audit", params={"action": action}, headers=bearer)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def test_admin_adds_a_rule_prefilled_with_what_a_model_presents(gateway: Gateway) -> None:
    async with gateway(trust=False) as env, signed_in_client(env, "trusting", "admin") as admin:
        env.kernel.service(SimulatedTrust).trust_simulators(True)
        first = await admin.get(PAGE)
        await admin.post(f"{PAGE}/reverify", data={"_csrf": csrf_of(first)})
        page = await admin.get(PAGE)
        link = re.search(r'class="trust-prefill" href="([^"]+)"', page.text)
        assert link, page.text
        filled = await admin.get(html.unescape(link.group(1)))
        values = _form_values(filled)
        no_csrf = await admin.post(f"{PAGE}/trust", data=values)
        added = await admin.post(f"{PAGE}/trust", data={**values, "_csrf": csrf_of(filled)})
        trusted = await admin.get(PAGE)
        audited = await _audited(admin, "attestation.trust.add")
    assert 'id="add-trust"' in page.text
    assert values["mr_td"], "the prefill carries the measured mr_td"
    assert f'<dt>mr_td</dt><dd><code class="wrap">{values["mr_td"]}</code>' in page.text
    assert values["provider"] == "redpill"
    assert values["models"] not in ("", "*")
    assert no_csrf.status_code == 403
    assert added.status_code == 303, added.text
    assert added.headers["location"].endswith("/dashboard/attestation#trust-policy")
    rules = trusted.text.split('class="trust-rule"')[1:]
    mine = [r for r in rules if f"mr_td={values['mr_td']}" in r and "<strong>added</strong>" in r]
    assert mine, trusted.text
    assert "#1 matches" in mine[0]
    assert 'action="/dashboard/attestation/trust/' in mine[0]
    assert [e["actor_id"] for e in audited if e.get("actor_id")], audited


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("workloads", {"mr_td": "not hex"}),
        ("accepted_tcb_statuses", {"mr_td": "ab" * 48, "accepted_tcb_statuses": "UpToDate, Nope"}),
        ("workloads", {"mr_td": "", "note": "only"}),
    ],
)
async def test_refused_rule_shows_its_error_inline(
    gateway: Gateway, field: str, sent: dict[str, str]
) -> None:
    async with gateway() as env, signed_in_client(env, "strict", "admin") as admin:
        page = await admin.get(PAGE)
        data = {"_csrf": csrf_of(page), "provider": "redpill", "models": "<b>m</b>", **sent}
        refused = await admin.post(f"{PAGE}/trust", data=data)
        after = await admin.get(PAGE)
    assert refused.status_code == 400, refused.text
    assert f'aria-describedby="{field}-error"' in refused.text
    assert f'id="{field}-error" role="alert"' in refused.text
    assert 'value="&lt;b&gt;m&lt;/b&gt;"' in refused.text
    assert '<details id="add-trust" open>' in refused.text
    assert "<strong>added</strong>" not in after.text


async def test_read_only_sees_no_trust_controls_and_is_refused(gateway: Gateway) -> None:
    async with gateway() as env, signed_in_client(env, "reader", "read_only") as reader:
        page = await reader.get(PAGE)
        prefill = await reader.get(f"{PAGE}?fill_provider=redpill&fill_model=x")
        data = {"_csrf": csrf_of(page), "mr_td": "ab" * 48}
        added = await reader.post(f"{PAGE}/trust", data=data)
        removed = await reader.post(f"{PAGE}/trust/1/remove", data={"_csrf": csrf_of(page)})
    assert page.status_code == prefill.status_code == 200
    for control in ('id="add-trust"', "trust-prefill", "remove-trust", "Trust policy"):
        assert control not in page.text
        assert control not in prefill.text
    assert added.status_code == 403
    assert removed.status_code in (403, 404, 405)


def _serves_trust_removal(env: Any) -> bool:
    paths = {route.path: route.methods for route in env.app.routes}
    return "DELETE" in paths.get("/api-internal/v1/attestation/trust/{rule_id:int}", set())


async def test_admin_removes_a_run_time_rule(gateway: Gateway) -> None:
    async with gateway() as env, signed_in_client(env, "pruning", "admin") as admin:
        if not _serves_trust_removal(env):
            pytest.skip("the attestation plugin serves no DELETE /attestation/trust/{rule_id}")
        page = await admin.get(PAGE)
        rule = {"mr_td": "cd" * 48, "note": "to remove", "_csrf": csrf_of(page)}
        assert (await admin.post(f"{PAGE}/trust", data=rule)).status_code == 303
        listed = await admin.get(PAGE)
        rule_id = re.search(r'id="remove-trust-(\d+)"', listed.text)
        assert rule_id, listed.text
        url = f"{PAGE}/trust/{rule_id.group(1)}/remove"
        no_csrf = await admin.post(url)
        removed = await admin.post(url, data={"_csrf": csrf_of(listed)})
        after = await admin.get(PAGE)
        audited = await _audited(admin, "attestation.trust.remove")
    assert no_csrf.status_code == 403
    assert removed.status_code == 303, removed.text
    assert "cd" * 48 not in after.text
    assert 'id="remove-trust-' not in after.text
    assert audited
