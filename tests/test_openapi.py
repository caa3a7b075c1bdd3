"""The OpenAPI document of the whole gateway, every builtin plugin mounted, as ``/schema`` has it.

It must be valid OpenAPI 3.1 and complete: a request body schema on every write, a success body
on every operation, the real ``Error`` body on every error status, and the security each surface
really enforces (checked against the running authenticators too).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from kernel.app import create_app
from kernel.plugins import PluginManager
from kernel.settings import load_settings

WRITES = ("post", "put", "patch")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ERROR_REF = "#/components/schemas/Error"

# Actions named by their path whose handlers read no body at all (any body is ignored).
NO_BODY = {
    ("post", "/api-internal/v1/api-keys/{key_id}/revoke"),  # the key is in the path
    ("post", "/api-internal/v1/api-keys/{key_id}/restore"),  # undoes revoke
    ("post", "/api-internal/v1/api-keys/{key_id}/regenerate"),  # a new secret, same settings
    ("post", "/api-internal/v1/plugins/{name}/enable"),  # a toggle
    ("post", "/api-internal/v1/plugins/{name}/disable"),
    ("post", "/api-internal/v1/wasm-plugins/{name}/enable"),  # a toggle
    ("post", "/api-internal/v1/wasm-plugins/{name}/disable"),
    ("post", "/api-internal/v1/attestation/reverify"),  # re-attests every model now
    ("post", "/api-internal/v1/rag/documents/{document_id}/reprocess"),  # runs the job again
    ("post", "/api-internal/v1/rag/documents/{document_id}/cancel"),  # stops the job
    ("post", "/api/v1/rag/documents/{document_id}/cancel"),
}
# Error statuses whose body is not Error, by design.
OWN_ERROR_BODIES = {
    ("get", "/health/ready", "503"),  # probes read the same Readiness body as on 200
}
ANONYMOUS = {
    ("post", "/api-internal/v1/auth/login"),
    ("post", "/api-internal/v1/auth/refresh"),
}
PUBLIC_SECURITY = [{"ApiKey": []}, {"ApiKeyHeader": []}]
INTERNAL_SECURITY = [{"AccessToken": []}]


def _settings(data_dir: Path, **env: str) -> Any:
    plugins = PluginManager(load_entry_points=False)
    values = {
        "ENCLAVA_DATA_DIR": str(data_dir),
        "ENCLAVA_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'enclava.db'}",
        "ENCLAVA_PLUGINS_RESYNC_SECONDS": "3600",
        "ENCLAVA_PRIVATEMODE_ENABLED": "false",
        "ENCLAVA_AUTH_JWT_SECRET": secrets.token_urlsafe(48),
        **env,
    }
    return load_settings(env=values, plugin_schemas=plugins.settings_schemas()), plugins


async def _fetch(data_dir: Path) -> dict[str, Any]:
    settings, plugins = _settings(data_dir)
    app = create_app(settings, plugins=plugins)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/schema/openapi.json")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return asyncio.run(_fetch(tmp_path_factory.mktemp("openapi")))


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def _guest_defined(operation: dict[str, Any]) -> bool:
    """A sandboxed plugin's endpoint: its bodies are whatever the guest reads and writes."""
    return any(tag.startswith("plugin:") for tag in operation.get("tags", []))


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield from [value] if key == "$ref" else refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    found = set(refs(document))
    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_every_write_has_a_request_body_schema(document: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in operations(document):
        if method not in WRITES or (method, path) in NO_BODY:
            continue
        content = operation.get("requestBody", {}).get("content", {})
        schemas = [media.get("schema") for media in content.values()]
        described = bool(schemas) and all(isinstance(s, dict) for s in schemas)
        # a guest plugin's body is whatever it reads: "{}" (any) is the truth there
        if not described or not (_guest_defined(operation) or all(schemas)):
            missing.append((method, path))
    assert missing == []
    writes = {(m, p) for m, p, _ in operations(document) if m in WRITES}
    assert writes >= NO_BODY, "an allowlisted operation is gone: drop it from NO_BODY"
    for method, path in NO_BODY:
        assert "requestBody" not in document["paths"][path][method]


def test_every_operation_has_a_success_body(document: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in operations(document):
        responses = operation["responses"]
        successes = [status for status in responses if status.startswith("2")]
        if "204" in successes:
            continue
        bodies = [
            media.get("schema")
            for status in successes
            for media in responses[status].get("content", {}).values()
        ]
        if not bodies or not (_guest_defined(operation) or all(bodies)):
            missing.append((method, path))
    assert missing == []


def test_every_error_status_answers_the_error_envelope(document: dict[str, Any]) -> None:
    wrong = []
    for method, path, operation in operations(document):
        errors = [s for s in operation["responses"] if s[0] in "45"]
        assert {"4XX", "5XX"} <= set(errors), (method, path)
        for status in errors:
            if (method, path, status) in OWN_ERROR_BODIES:
                continue
            content = operation["responses"][status].get("content", {})
            if content != {"application/json": {"schema": {"$ref": ERROR_REF}}}:
                wrong.append((method, path, status))
    assert wrong == []
    assert "400" in document["paths"]["/api/v1/chat/completions"]["post"]["responses"]
    login = document["paths"]["/api-internal/v1/auth/login"]["post"]["responses"]
    assert {"400", "413", "415"} <= set(login)
    assert "401" not in login


def test_error_schema_is_the_body_the_gateway_sends(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    assert set(schemas["ErrorBody"]["required"]) == {"message", "type", "param", "code"}
    validator = jsonschema.Draft202012Validator({"components": document["components"]})
    body = {
        "error": {"message": "Invalid URL", "type": "not_found_error", "param": None, "code": None}
    }
    validator.evolve(schema={**validator.schema, "$ref": ERROR_REF}).validate(body)
    for name, schema in schemas.items():
        # Litestar's own error shape, which the gateway never sends
        assert not {"status_code", "detail", "extra"} <= set(schema.get("properties", {})), name


def test_security_follows_the_surface(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"]["type"] == "http"
    assert schemes["ApiKey"]["scheme"] == "bearer"
    assert schemes["ApiKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKeyHeader"]["description"],
    }
    assert (schemes["AccessToken"]["scheme"], schemes["AccessToken"]["bearerFormat"]) == (
        "bearer",
        "JWT",
    )
    assert "security" not in document
    for method, path, operation in operations(document):
        security = operation.get("security")
        if path.startswith("/api/v1/"):
            assert security == PUBLIC_SECURITY, (method, path)
        elif path.startswith("/api-internal/v1/") and (method, path) not in ANONYMOUS:
            assert security == INTERNAL_SECURITY, (method, path)
        else:
            assert security is None, (method, path)


def test_llm_routes_use_openais_schemas(document: dict[str, Any]) -> None:
    for surface in ("/api/v1", "/api-internal/v1"):
        chat = document["paths"][f"{surface}/chat/completions"]["post"]
        assert chat["requestBody"]["required"] is True
        assert chat["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/CreateChatCompletionRequest"
        }
        answers = chat["responses"]["200"]["content"]
        assert answers["application/json"]["schema"]["$ref"].endswith(
            "/CreateChatCompletionResponse"
        )
        assert answers["text/event-stream"]["schema"]["oneOf"] == [
            {"$ref": "#/components/schemas/CreateChatCompletionStreamResponse"},
            {"$ref": ERROR_REF},
        ]
        embeddings = document["paths"][f"{surface}/embeddings"]["post"]
        assert embeddings["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/CreateEmbeddingRequest"
        )
        assert embeddings["responses"]["200"]["content"]["application/json"]["schema"][
            "$ref"
        ].endswith("/CreateEmbeddingResponse")
    models = document["paths"]["/api/v1/models"]["get"]["responses"]["200"]["content"]
    assert models["application/json"]["schema"] == {"$ref": "#/components/schemas/ModelList"}


def test_openai_schemas_accept_what_openai_clients_send(document: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator({"components": document["components"]})

    def check(name: str, instance: Any) -> None:
        schema = {**validator.schema, "$ref": f"#/components/schemas/{name}"}
        validator.evolve(schema=schema).validate(instance)

    check(
        "CreateChatCompletionRequest",
        {
            "model": "llama-3.3-70b",
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": None,
        },
    )
    check("CreateEmbeddingRequest", {"model": "bge-m3", "input": ["a", "b"]})
    with pytest.raises(jsonschema.ValidationError):
        check("CreateChatCompletionRequest", {"model": "m"})


async def test_documented_credentials_are_the_ones_read(
    tmp_path: Path, running: Any, document: dict[str, Any]
) -> None:
    """Each scheme, sent where the document says, reaches an authenticator: a wrong credential
    is refused as wrong, not as missing."""
    settings, plugins = _settings(tmp_path)
    schemes = document["components"]["securitySchemes"]

    def headers(name: str, credential: str) -> dict[str, str]:
        scheme = schemes[name]
        if scheme["type"] == "http":
            return {"authorization": f"Bearer {credential}"}
        assert scheme["in"] == "header"
        return {scheme["name"]: credential}

    wrong_key = "en_" + "A" * 40
    async with running(create_app(settings, plugins=plugins)) as client:
        missing = (await client.get("/api/v1/models")).json()["error"]["message"]
        for requirement in PUBLIC_SECURITY:
            (name,) = requirement
            refused = await client.get("/api/v1/models", headers=headers(name, wrong_key))
            assert refused.status_code == 401
            assert refused.json()["error"]["message"] != missing, name
        (name,) = INTERNAL_SECURITY[0]
        refused = await client.get("/api-internal/v1/models", headers=headers(name, "not.a.jwt"))
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_token"
