"""Every integer query parameter of every GET route has an upper bound: 2**63 is a 400, never an
OverflowError (500) from the database driver. Routes come from the app's own OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from support.identity import admin_headers

from kernel.app import create_app

HUGE = str(2**63)


def _is_integer(schema: dict[str, Any]) -> bool:
    options = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    return any(option.get("type") == "integer" for option in options)


def integer_queries(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, parameter) for each integer query parameter of a GET without path parameters."""
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None or "{" in path:
            continue
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and _is_integer(parameter.get("schema", {})):
                yield path, parameter["name"]


def _client(app: Litestar) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _identities(
    app: Litestar, client: httpx.AsyncClient
) -> tuple[dict[str, str], dict[str, str]]:
    """An admin's headers and the bearer header of an API key of theirs."""
    admin = await admin_headers(app, client)
    created = await client.post("/api-internal/v1/api-keys", headers=admin, json={"name": "q"})
    assert created.status_code == 201, created.text
    return admin, {"authorization": f"Bearer {created.json()['key']}"}


async def test_every_integer_query_parameter_refuses_2_to_the_63(
    make_settings: Any, database_url: str
) -> None:
    app = create_app(make_settings(database_url))
    async with app.lifespan(), _client(app) as client:
        admin, bearer = await _identities(app, client)
        document = (await client.get("/schema/openapi.json")).json()
        checked = list(integer_queries(document))
        answers = {}
        for path, name in checked:
            headers = bearer if path.startswith("/api/v1/") else admin
            response = await client.get(path, params={name: HUGE}, headers=headers)
            answers[f"{path}?{name}"] = response.status_code
    assert {
        "/api/v1/usage?offset",
        "/api-internal/v1/users?offset",
        "/api-internal/v1/api-keys?offset",
        "/api-internal/v1/budgets?offset",
        "/api-internal/v1/usage/aggregate?offset",
        "/api-internal/v1/audit?offset",
    } <= set(answers)
    assert {k: v for k, v in answers.items() if v != 400} == {}


@pytest.mark.parametrize("cursor", ["99999999999999999999", "%C2%B2", "9" * 5000])
async def test_an_audit_cursor_out_of_range_is_a_400(
    make_settings: Any, sqlite_url: str, cursor: str
) -> None:
    app = create_app(make_settings(sqlite_url))
    async with app.lifespan(), _client(app) as client:
        admin, _ = await _identities(app, client)
        response = await client.get(f"/api-internal/v1/audit?cursor={cursor}", headers=admin)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "cursor"
