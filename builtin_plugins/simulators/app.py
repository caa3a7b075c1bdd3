"""What both simulator apps share: options, the aiohttp skeleton, request parsing and checks.

Request validation is deliberately thin (a model, a non-empty ``messages`` list, a usable
``input``): the real services accept every other OpenAI field, known or not, and so do the
simulators.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

from builtin_plugins.simulators.control import add_control_routes
from builtin_plugins.simulators.faults import (
    ErrorRenderer,
    FaultConfig,
    FaultState,
    fault_middleware,
)
from builtin_plugins.simulators.keys import TEST_API_KEY

__all__ = [
    "MAX_BODY_BYTES",
    "SimulatorOptions",
    "bearer_token",
    "chat_problem",
    "embedding_inputs",
    "new_application",
    "read_json_object",
]

MAX_BODY_BYTES = 32 * 1024 * 1024
"""Request size cap (private-ai-gateway's ``MAX_REQUEST_BODY_BYTES``)."""


class SimulatorOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How a simulator starts. ``api_key`` None means "no key checks"."""

    api_key: str | None = TEST_API_KEY
    faults: FaultConfig = FaultConfig()
    keyset_ttl_seconds: int = 24 * 3600
    """RedPill aci/1: the keyset's ``not_after`` is start time plus this (negative = expired)."""


def new_application(
    options: SimulatorOptions, render: ErrorRenderer, middlewares: Iterable[Middleware] = ()
) -> web.Application:
    """An app with fault injection outermost, the given middlewares, and ``/_sim/`` routes."""
    state = FaultState(options.faults)
    app = web.Application(
        middlewares=[fault_middleware(state, render), *middlewares],
        client_max_size=MAX_BODY_BYTES,
    )
    add_control_routes(app, state)
    return app


def bearer_token(request: web.Request) -> str | None:
    """The ``Authorization: Bearer`` token, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def read_json_object(request: web.Request) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        parsed = json.loads(await request.read())
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def chat_problem(body: dict[str, Any]) -> str | None:
    """Why a chat request cannot be served, or None."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return "every message needs a role"
    n = body.get("n", 1)
    if not isinstance(n, int) or n < 1:
        return "n must be a positive integer"
    return None


def embedding_inputs(value: object) -> list[str] | None:
    """The texts of an embeddings ``input`` (string, strings, token ids), or None if unusable."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(isinstance(v, int) for v in value):
            return [" ".join(str(v) for v in value)]
        if all(isinstance(v, list) and all(isinstance(t, int) for t in v) for v in value):
            return [" ".join(str(t) for t in v) for v in value]
    return None
