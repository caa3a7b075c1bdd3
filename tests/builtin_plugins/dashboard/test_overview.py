"""The overview through a served gateway in front of both simulated providers: today's requests
and spend (a user's own, an admin's everyone's), each provider's health, circuit and attestation,
and the same figures live over SSE."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from support.gateway import SHARED, Env, Gateway, gateway_factory

from builtin_plugins.usage.runtime import UsageRuntime

from .conftest import new_user, sign_in

EVENTS = "/dashboard/overview/events"


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    return gateway_factory(make_settings, sqlite_url)


def figure(html: str, name: str) -> str:
    match = re.search(rf'id="{name}">([^<]*)<', html)
    assert match, html
    return match.group(1)


@contextlib.asynccontextmanager
async def signed_in_client(
    env: Env, name: str, role: str = "user"
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client over real HTTP, signed in as a new user."""
    async with httpx.AsyncClient(base_url=env.base_url.removesuffix("/api/v1")) as client:
        email = await new_user(env.app, name, role)  # type: ignore[arg-type]
        assert (await sign_in(client, email)).status_code == 303
        yield client


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """The (event, data) pairs of an SSE response, in order."""
    event, data = "", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif not line and data:
            yield event, "\n".join(data)
            event, data = "", []


async def first_event(client: httpx.AsyncClient) -> tuple[str, str]:
    async with client.stream("GET", EVENTS) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for pair in events(response):
            return pair
    raise AssertionError("the stream ended without an event")


async def test_overview_shows_usage_and_providers(gateway: Gateway) -> None:
    async with gateway() as env:
        await env.client().chat.completions.create(
            model=SHARED, messages=[{"role": "user", "content": "hi"}]
        )
        await UsageRuntime.of(env.kernel).recorder.flush()
        async with signed_in_client(env, "adm", "admin") as admin:
            page = await admin.get("/dashboard/")
        async with signed_in_client(env, "usr") as user:
            own = await user.get("/dashboard/")
    assert page.status_code == 200
    assert int(figure(page.text, "requests-today")) >= 1
    assert figure(own.text, "requests-today") == "0"
    for provider in ("privatemode", "redpill"):
        assert f'data-provider="{provider}"' in page.text
    assert "circuit closed" in page.text
    assert "healthy" in page.text
    assert 'sse-connect="/dashboard/overview/events"' in page.text


async def test_live_feed_streams_the_overview(gateway: Gateway) -> None:
    async with gateway() as env, signed_in_client(env, "sse") as client:
        event, data = await first_event(client)
        client.cookies.clear()
        stranger = await client.get(EVENTS)
    assert event == "overview"
    assert 'id="requests-today"' in data
    assert 'data-provider="redpill"' in data
    assert stranger.status_code == 204


async def test_live_feed_ends_with_the_session(gateway: Gateway) -> None:
    async with (
        gateway(ENCLAVA_DASHBOARD_LIVE_REFRESH_SECONDS="0.05") as env,
        signed_in_client(env, "bye") as client,
    ):
        token = client.cookies["enclava_session"]
        seen: list[str] = []
        async with client.stream("GET", EVENTS) as response:
            async for event, _ in events(response):
                seen.append(event)
                if len(seen) == 2:
                    revoked = await client.post(
                        "/api-internal/v1/auth/logout",
                        json={},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert revoked.status_code == 200
    assert seen[:2] == ["overview", "overview"]
    assert seen[-1] == "expired"
    assert set(seen[2:-1]) <= {"overview"}
