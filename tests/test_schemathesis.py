"""Schemathesis over the app's own OpenAPI document, both surfaces, authenticated.

The whole gateway runs as it ships (every builtin plugin, embedded stores, both provider
simulators) and answers real HTTP on loopback. For every operation of ``/schema/openapi.json``
Schemathesis generates valid (positive) and invalid (negative) requests; each answer must not be a
5xx and must conform to the document: a documented status, the documented content type, a body
matching the documented schema, documented headers. The public surface is called with an API key,
the internal one with an admin's access token.

Operations that would lock the test out of its own credentials are left out (see ``SELF_LOCKOUT``).
The number of examples is bounded (``FUZZ_EXAMPLES`` per operation and mode, default 6)
and generation is derandomised, so CI runs the same requests every time in a few minutes; raise
the number locally to search further.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.gateway import EMBEDDING, SHARED, Env, gateway_factory
from support.identity import admin_headers

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# (method, path) that revoke or change the credentials the run itself uses, or switch off the
# plugins that authenticate it: fuzzing them ends the run, not the app.
SELF_LOCKOUT = {
    ("POST", "/api-internal/v1/auth/logout"),
    ("POST", "/api-internal/v1/auth/change-password"),
    ("POST", "/api-internal/v1/plugins/{name}/disable"),
    ("PUT", "/api-internal/v1/plugins/{name}/config"),
    ("PUT", "/api-internal/v1/settings"),
}
# Limits high enough that the run's own volume is never refused as abuse.
UNTHROTTLED = {
    "ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE": "10000000",
    "ENCLAVA_RATE_LIMIT_INTERNAL_PER_MINUTE": "10000000",
    "ENCLAVA_RATE_LIMIT_ANONYMOUS_PER_MINUTE": "10000000",
    "ENCLAVA_RATE_LIMIT_BUCKETS": '{"login": 10000000, "refresh": 10000000}',
    "ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_IP": "10000000",
    "ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_ACCOUNT": "10000000",
    "ENCLAVA_THREAT_DETECTION_INVALID_KEYS_PER_IP": "10000000",
    "ENCLAVA_AUTH_ACCESS_TTL_SECONDS": "3600",
}


def _register_media_types() -> None:
    """Plugin uploads are zips: sent as raw bytes, like any ``format: binary`` body."""
    schemathesis.serializer.alias("application/zip", "application/octet-stream")


def _known_model(case: Any) -> None:
    """Valid bodies name a model that exists, or every chat would stop at 404 model_not_found
    and the answer paths (JSON, SSE, usage, budgets) would go unfuzzed."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        body["model"] = EMBEDDING if case.operation.path.endswith("/embeddings") else SHARED


def _headers(path: str, env: Env, admin: dict[str, str]) -> dict[str, str]:
    if path.startswith("/api-internal/"):
        return admin
    return {"Authorization": f"Bearer {env.key}"}


def _fuzz_operation(
    operation: Any,
    base: str,
    headers: dict[str, str],
    mode: GenerationMode,
    counts: dict[str, int],
) -> list[str]:
    """Run ``EXAMPLES`` generated cases of ``operation``; one line per distinct failure."""
    failures: dict[str, str] = {}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if mode is GenerationMode.POSITIVE:
            _known_model(case)
        counts[operation.label] = counts.get(operation.label, 0) + 1
        try:
            case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=30)
        except (AssertionError, FailureGroup) as error:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            key = lines[0] if lines else type(error).__name__
            failures.setdefault(key, f"{operation.label} [{mode.value}]: {' | '.join(lines[:24])}")

    try:
        run()
    except Unsatisfiable:  # nothing to negate: an operation without parameters or body
        if mode is GenerationMode.POSITIVE:
            raise
    return list(failures.values())


def _fuzz(env: Env, admin: dict[str, str], counts: dict[str, int]) -> list[str]:
    _register_media_types()
    base = env.base_url.removesuffix("/api/v1")
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SELF_LOCKOUT:
            continue
        headers = _headers(operation.path, env, admin)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _fuzz_operation(operation, base, headers, mode, counts)
    return failures


@pytest.mark.slow
async def test_schemathesis_finds_no_server_error_and_no_nonconformance(
    make_settings: Callable[..., Any], sqlite_url: str
) -> None:
    gateway = gateway_factory(make_settings, sqlite_url)
    async with gateway(**UNTHROTTLED) as env:
        base = env.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=base) as client:
            admin = await admin_headers(env.app, client)
        counts: dict[str, int] = {}
        failures = await asyncio.to_thread(_fuzz, env, admin, counts)
    print(f"schemathesis: {sum(counts.values())} requests over {len(counts)} operations")
    assert len(counts) >= 60, sorted(counts)
    assert failures == [], "\n".join(failures)
