"""The usage page through a served gateway: a request made with a key created in the dashboard
shows in the totals, the chart's figures and the breakdowns by model, provider and key; a user
sees only their own usage, an admin everyone's and the top users and keys; the CSV export is the
internal API's."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import openai
import pytest
from support.gateway import SHARED, Gateway, gateway_factory

from builtin_plugins.usage.runtime import UsageRuntime

from .conftest import csrf_of
from .test_overview import figure, signed_in_client

USAGE = "/dashboard/usage"
_KEY = re.compile(r'id="new-key" value="(en_[A-Za-z0-9_-]+)"')


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    return gateway_factory(make_settings, sqlite_url)


async def dashboard_key(client: httpx.AsyncClient, name: str) -> str:
    csrf = csrf_of(await client.get("/dashboard/keys"))
    panel = await client.post("/dashboard/keys", data={"_csrf": csrf, "name": name})
    match = _KEY.search(panel.text)
    assert match, panel.text
    return match.group(1)


async def test_a_request_shows_in_usage(gateway: Gateway) -> None:
    async with gateway() as env, signed_in_client(env, "uma") as user:
        key = await dashboard_key(user, "usage-key")
        sdk = openai.AsyncOpenAI(base_url=env.base_url, api_key=key, max_retries=0)
        await sdk.chat.completions.create(
            model=SHARED, messages=[{"role": "user", "content": "hi"}]
        )
        await UsageRuntime.of(env.kernel).recorder.flush()
        page = await user.get(USAGE)
        csv = await user.get(f"{USAGE}/export")
        async with signed_in_client(env, "boss", "admin") as admin:
            everyone = await admin.get(USAGE)
        async with signed_in_client(env, "newbie") as other:
            nothing = await other.get(USAGE)
    assert page.status_code == 200, page.text
    assert figure(page.text, "usage-requests") == "1"
    chart = re.search(r"data-chart='([^']*)'", page.text)
    assert chart
    series = json.loads(chart.group(1).replace("&#34;", '"'))
    assert len(series) == 30  # every day of the range, for the chart's axis
    assert [row[1] for row in series].count(1) == 1
    assert sum(row[1] for row in series) == 1
    for section in ("by-model", "by-provider", "by-key"):
        assert f'id="{section}"' in page.text
    assert f'data-group="{SHARED}"' in page.text
    assert "usage-key" in page.text
    assert 'id="top-users"' not in page.text
    assert '<script src="/dashboard/static/vendor/uplot/uPlot.iife.min.js"' in page.text
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    header, *rows = csv.text.strip().splitlines()
    assert "model" in header.split(",")
    assert len(rows) == 1
    assert SHARED in rows[0]
    assert figure(nothing.text, "usage-requests") == "0"
    assert 'id="no-usage"' in nothing.text
    assert int(figure(everyone.text, "usage-requests")) >= 1
    assert 'id="top-users"' in everyone.text
    assert "uma@example.com" in everyone.text


async def test_range_form_and_bad_dates(gateway: Gateway) -> None:
    async with gateway() as env, signed_in_client(env, "ray") as user:
        page = await user.get(USAGE, params={"first": "2026-01-01", "last": "2026-01-31"})
        bad = await user.get(USAGE, params={"first": "<script>", "last": "nope"})
        csv = await user.get(
            f"{USAGE}/export", params={"first": "2026-01-01", "last": "2026-01-02"}
        )
        user.cookies.clear()
        stranger = await user.get(f"{USAGE}/export")
    assert 'value="2026-01-01"' in page.text
    assert 'value="2026-01-31"' in page.text
    assert "first=2026-01-01&amp;last=2026-01-31" in page.text
    assert bad.status_code == 200
    assert "<script>" not in bad.text.split("<main", 1)[1]
    assert csv.text.strip().count("\n") == 0  # the header only
    assert stranger.status_code == 303
