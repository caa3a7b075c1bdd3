"""Rate limits through the real app, on the memory and Redis KV backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kernel.runtime import Kernel

KEY = {"authorization": "Bearer key:k1"}
USER = {"authorization": "Bearer user:u1"}


def limits(response: Any) -> tuple[str, str, str]:
    headers = response.headers
    return (
        headers["x-ratelimit-limit"],
        headers["x-ratelimit-remaining"],
        headers["x-ratelimit-reset"],
    )


async def test_headers_present_and_decreasing(
    build_app: Any, running: Any, kv_backend: str
) -> None:
    app = build_app(kv_backend, ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="5")
    async with running(app) as client:
        seen = [limits(await client.get("/api/v1/ping", headers=KEY)) for _ in range(3)]
    # 5 per minute is one request every 12 s: the bucket is full again 12 s per request taken.
    assert seen == [("5", "4", "12"), ("5", "3", "24"), ("5", "2", "36")]


async def test_over_limit_is_429_with_retry_after(
    build_app: Any, running: Any, kv_backend: str
) -> None:
    app = build_app(kv_backend, ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="2")
    async with running(app) as client:
        for _ in range(2):
            assert (await client.get("/api/v1/ping", headers=KEY)).status_code == 200
        refused = await client.get("/api/v1/ping", headers=KEY)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert limits(refused) == ("2", "0", "60")
    assert refused.json() == {
        "error": {
            "message": "Rate limit reached for requests: limit 2 per minute. Try again in 30s.",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


async def test_headers_on_error_responses(build_app: Any, running: Any, kv_backend: str) -> None:
    async with running(build_app(kv_backend)) as client:
        response = await client.get("/api/v1/fail", headers=KEY)
    assert response.status_code == 400
    assert limits(response) == ("1000", "999", "1")


async def test_key_override_is_honoured(build_app: Any, running: Any, kv_backend: str) -> None:
    special = {"authorization": "Bearer key:k2:3"}
    async with running(build_app(kv_backend)) as client:
        answers = [await client.get("/api/v1/ping", headers=special) for _ in range(4)]
        other_key = await client.get("/api/v1/ping", headers=KEY)
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert limits(answers[0])[:2] == ("3", "2")
    assert "limit 3 per minute" in answers[-1].json()["error"]["message"]
    assert limits(other_key)[:2] == ("1000", "999")


@pytest.mark.parametrize("attribute", ["", "0", "-5", "many"], ids=["none", "zero", "neg", "str"])
async def test_key_without_valid_override_gets_default(
    build_app: Any, running: Any, attribute: str
) -> None:
    headers = {"authorization": f"Bearer key:k3:{attribute}"}
    async with running(build_app(ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="4")) as client:
        response = await client.get("/api/v1/ping", headers=headers)
    assert limits(response)[:2] == ("4", "3")


async def test_internal_and_public_defaults(build_app: Any, running: Any, kv_backend: str) -> None:
    async with running(build_app(kv_backend)) as client:
        user = await client.get("/api-internal/v1/ping", headers=USER)
        key = await client.get("/api/v1/ping", headers=KEY)
        user_on_public = await client.get("/api/v1/ping", headers=USER)
    assert limits(user)[:2] == ("300", "299")
    assert limits(key)[:2] == ("1000", "999")
    # One bucket per user: the internal request took 1/300 of its minute (0.2 s), worth 3.3
    # public requests of 1/1000 (0.06 s) each; after this one, 995 more would pass.
    assert limits(user_on_public)[:2] == ("1000", "995")


async def test_internal_limit_is_configurable(
    build_app: Any, running: Any, kv_backend: str
) -> None:
    app = build_app(kv_backend, ENCLAVA_RATE_LIMIT_INTERNAL_PER_MINUTE="2")
    async with running(app) as client:
        answers = [await client.get("/api-internal/v1/ping", headers=USER) for _ in range(3)]
        other_user = await client.get(
            "/api-internal/v1/ping", headers={"authorization": "Bearer user:u2"}
        )
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert limits(other_user)[:2] == ("2", "1")


async def test_named_buckets_default_limits(build_app: Any, running: Any) -> None:
    async with running(build_app()) as client:
        login = await client.post("/api-internal/v1/login")
        refresh = await client.post("/api-internal/v1/refresh")
    assert limits(login)[:2] == ("10", "9")
    assert limits(refresh)[:2] == ("30", "29")


async def test_login_bucket_is_per_ip(
    build_app: Any, running: Any, client_from: Any, kv_backend: str
) -> None:
    app = build_app(kv_backend, ENCLAVA_RATE_LIMIT_BUCKETS='{"login": 2, "refresh": 3}')
    async with running(app) as client, client_from(app, "10.0.0.2") as neighbour:
        answers = [await client.post("/api-internal/v1/login") for _ in range(3)]
        # A principal does not escape the named bucket: it is counted per IP whoever calls.
        with_key = await client.post("/api-internal/v1/login", headers=KEY)
        from_neighbour = await neighbour.post("/api-internal/v1/login")
        refresh = await client.post("/api-internal/v1/refresh")
    assert [r.status_code for r in answers] == [201, 201, 429]
    assert "limit 2 per minute" in answers[-1].json()["error"]["message"]
    assert with_key.status_code == 429
    assert limits(from_neighbour)[:2] == ("2", "1")
    assert limits(refresh)[:2] == ("3", "2")


async def test_other_anonymous_routes_limited_per_ip(
    build_app: Any, running: Any, client_from: Any, kv_backend: str
) -> None:
    app = build_app(kv_backend, ENCLAVA_RATE_LIMIT_ANONYMOUS_PER_MINUTE="2")
    async with running(app) as client, client_from(app, "10.0.0.3") as neighbour:
        public = [await client.get("/api/v1/open") for _ in range(2)]
        internal = await client.get("/api-internal/v1/open")
        # A bucket named by a route but absent from the settings gets anonymous_per_minute,
        # in a bucket of its own.
        signup = await client.post("/api-internal/v1/signup")
        from_neighbour = await neighbour.get("/api/v1/open")
        with_key = await client.get("/api/v1/open", headers=KEY)
    assert [limits(r)[:2] for r in public] == [("2", "1"), ("2", "0")]
    assert internal.status_code == 429
    assert limits(signup)[:2] == ("2", "1")
    assert limits(from_neighbour)[:2] == ("2", "1")
    assert limits(with_key)[:2] == ("1000", "999")


async def test_concurrent_burst_exact_on_one_app(
    build_app: Any, running: Any, kv_backend: str
) -> None:
    app = build_app(kv_backend, ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="20")
    async with running(app) as client:
        answers = await asyncio.gather(
            *(client.get("/api/v1/ping", headers=KEY) for _ in range(21))
        )
    assert sorted(r.status_code for r in answers) == [200] * 20 + [429]


async def test_settings_changed_at_runtime_apply(
    build_app: Any, running: Any, kv_backend: str
) -> None:
    app = build_app(kv_backend)
    async with running(app) as client:
        assert limits(await client.get("/api/v1/ping", headers=KEY))[0] == "1000"
        kernel: Kernel = app.state.kernel
        await kernel.update_section("rate_limit", {"public_per_minute": 2})
        response = await client.get("/api/v1/ping", headers=USER)
    assert limits(response)[:2] == ("2", "1")
