"""Model restrictions as routes declare them (the kernel gate enforces them), chatbot
restrictions as handlers apply them, and the key's region (via probe routes)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from builtin_plugins.api_keys.policy import ApiKeyPolicy
from kernel.errors import PermissionDeniedError
from kernel.types import Principal


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


async def test_allowed_models_limit_what_a_key_may_use(
    make_app: Any, running: Any, new_key: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        limited, _ = await new_key(app, allowed_models=["model-a", "model-c"])
        headers = {"X-API-Key": limited}
        assert (await client.get("/api/v1/test-model/model-a", headers=headers)).json() == {
            "model": "model-a"
        }
        error = error_of(await client.get("/api/v1/test-model/model-b", headers=headers), 403)
        assert error == {
            "message": "This API key is not allowed to use the model 'model-b'.",
            "type": "permission_error",
            "param": "model",
            "code": "model_not_allowed",
        }
        listed = await client.get("/api/v1/probe/models", headers=headers)
        assert listed.json() == {"data": ["model-a", "model-c"]}
        open_key, _ = await new_key(app)
        headers = {"X-API-Key": open_key}
        assert (await client.get("/api/v1/test-model/model-b", headers=headers)).status_code == 200
        listed = await client.get("/api/v1/probe/models", headers=headers)
        assert listed.json() == {"data": ["model-a", "model-b", "model-c"]}


async def test_allowed_chatbots_limit_what_a_key_may_use(
    make_app: Any, running: Any, new_key: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        limited, _ = await new_key(app, allowed_chatbots=["bot-1"])
        headers = {"Authorization": f"Bearer {limited}"}
        r = await client.get("/api/v1/test-chatbot/bot-1", headers=headers)
        assert r.status_code == 200, r.text
        error = error_of(await client.get("/api/v1/test-chatbot/bot-2", headers=headers), 403)
        assert (error["code"], error["param"]) == ("chatbot_not_allowed", "chatbot_id")
        open_key, _ = await new_key(app)
        response = await client.get(
            "/api/v1/test-chatbot/bot-2", headers={"Authorization": f"Bearer {open_key}"}
        )
        assert response.status_code == 200


async def test_allowed_collections_limit_what_a_key_may_use(
    make_app: Any, running: Any, new_key: Any
) -> None:
    app = make_app()
    async with running(app) as client:
        limited, record = await new_key(app, allowed_collections=["c-1"])
        assert record.allowed_collections == ["c-1"]
        headers = {"X-API-Key": limited}
        assert (await client.get("/api/v1/test-collection/c-1", headers=headers)).status_code == 200
        error = error_of(await client.get("/api/v1/test-collection/c-2", headers=headers), 403)
        assert (error["code"], error["param"]) == ("collection_not_allowed", "collection_id")
        open_key, _ = await new_key(app)
        response = await client.get("/api/v1/test-collection/c-2", headers={"X-API-Key": open_key})
        assert response.status_code == 200


@pytest.mark.parametrize(
    "principal",
    [
        None,
        Principal(kind="user", id="u1", owner_id="u1", attributes={"allowed_chatbots": ("x",)}),
        Principal(kind="plugin", id="p", owner_id="p"),
    ],
    ids=["none", "user", "plugin"],
)
def test_only_api_keys_are_restricted(principal: Principal | None) -> None:
    policy = ApiKeyPolicy(kernel=Any)
    policy.require_chatbot_allowed(principal, "any-bot")
    policy.require_collection_allowed(principal, "any-collection")
    assert policy.response_verification(principal) is None


def test_key_principals_without_restriction_attributes_allow_everything() -> None:
    policy = ApiKeyPolicy(kernel=Any)
    bare = Principal(kind="api_key", id="k", owner_id="u")
    policy.require_chatbot_allowed(bare, "bot")
    policy.require_collection_allowed(bare, "c")
    assert bare.may_use_model("m")
    assert bare.required_region is None
    restricted = Principal(
        kind="api_key", id="k", owner_id="u", attributes={"allowed_chatbots": ("a",)}
    )
    with pytest.raises(PermissionDeniedError):
        policy.require_chatbot_allowed(restricted, "m")


async def test_required_region_is_the_keys(make_app: Any, running: Any, new_key: Any) -> None:
    app = make_app()
    async with running(app) as client:
        eu_key, record = await new_key(app, required_region="eu")
        assert record.required_region == "eu"
        whoami = await client.get("/api/v1/probe/whoami", headers={"X-API-Key": eu_key})
        assert whoami.json()["required_region"] == "eu"
