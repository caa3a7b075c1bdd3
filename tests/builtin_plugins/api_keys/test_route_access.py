"""Every public route of the real app, taken from its route table (so a new route is walked
without touching this file), refuses a key without its scope and a key restricted to other
models, and admits keys that have them."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.routes import HTTPRoute

from builtin_plugins.api_keys.keys import PUBLIC_SCOPES
from kernel.types import Unscoped

PROBE = "api_keys_probe"
INSIDE = "model-inside"
OUTSIDE = "model-outside"
OPEN_ROUTES = {
    ("GET", "/api/v1/usage"): "a key reads only its own usage",
    ("GET", "/api/v1/budget/status"): "a key reads only the budgets it spends against",
}
"""Public routes open to every key whatever its scopes: each was reviewed; add one only so."""
EXPECTED: dict[tuple[str, str], tuple[str, str | None]] = {
    ("POST", "/api/v1/chat/completions"): ("chat.completions", "body"),
    ("POST", "/api/v1/embeddings"): ("embeddings", "body"),
    ("GET", "/api/v1/models"): ("models.list", None),
    ("GET", "/api/v1/models/{model_id:path}"): ("models.list", "path:model_id"),
    ("GET", "/api/v1/attestation"): ("models.list", None),
    ("GET", "/api/v1/plugins/hello/hello"): ("plugins.invoke", None),
    ("POST", "/api/v1/plugins/hello"): ("plugins.invoke", None),
    ("GET", "/api/v1/plugins/pii_redactor/stats"): ("plugins.invoke", None),
}
"""What the routes known today declare (scope, model source); later routes are walked too."""


class Walked(msgspec.Struct, frozen=True):
    method: str
    path: str
    url_format: str
    scope: str | Unscoped
    model: str | None
    params: tuple[str, ...]

    def request(self, model: str) -> dict[str, Any]:
        """``client.request`` arguments naming ``model`` wherever the route reads it."""
        url = self.url_format
        for name in self.params:
            url = url.replace(f"{{{name}}}", model if self.model == f"path:{name}" else "x")
        body = {"model": model} if self.method in ("POST", "PUT", "PATCH") else None
        return {"method": self.method, "url": url, "json": body}


def public_routes(app: Litestar) -> list[Walked]:
    """Every public handler that declares its access (boot refuses those that do not, except
    Litestar's own OPTIONS answers, checked here too)."""
    walked: list[Walked] = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), route.path  # no public websocket routes yet
        for handler in route.route_handlers:
            opt = handler.opt
            if opt.get("enclava_surface") != "public" or opt.get("enclava_plugin") == PROBE:
                continue
            if "enclava_scope" not in opt:
                assert handler.http_methods == {"OPTIONS"}, route.path
                continue
            walked += [
                Walked(
                    method=method,
                    path=route.path,
                    url_format=route.path_format,
                    scope=opt["enclava_scope"],
                    model=opt.get("enclava_model"),
                    params=tuple(route.path_parameters),
                )
                for method in sorted(handler.http_methods)
            ]
    return walked


def ours(response: Any) -> str | None:
    """The access refusal (401/403 code) a response carries, if any."""
    if response.status_code not in (401, 403):
        return None
    return str(response.json()["error"]["code"])


async def test_every_public_route_enforces_its_scope_and_model(
    make_app: Any, running: Any, new_key: Any, probe: Any
) -> None:
    app = make_app()
    routes = public_routes(app)
    declared = {(r.method, r.path): (r.scope, r.model) for r in routes}
    assert {k: declared.get(k) for k in EXPECTED} == EXPECTED
    unscoped = {(r.method, r.path): r.scope for r in routes if isinstance(r.scope, Unscoped)}
    assert {k: v.reason for k, v in unscoped.items()} == OPEN_ROUTES
    async with running(app) as client:
        owner = None
        lacking: dict[str, str] = {}
        only: dict[str, str] = {}
        for scope in PUBLIC_SCOPES:
            others = [s for s in PUBLIC_SCOPES if s != scope]
            key, record = await new_key(app, owner_id=owner, scopes=others)
            owner = record.owner_id
            lacking[scope] = key
            only[scope], _ = await new_key(app, owner_id=owner, scopes=[scope])
        restricted, _ = await new_key(app, owner_id=owner, allowed_models=[INSIDE])
        scopeless, _ = await new_key(app, owner_id=owner, scopes=[])
        refusals = 0
        for route in routes:
            where = f"{route.method} {route.path}"
            if isinstance(route.scope, str):
                sent = route.request(INSIDE)
                response = await client.request(**sent, headers={"X-API-Key": lacking[route.scope]})
                assert ours(response) == "insufficient_scope", (where, response.text)
                response = await client.request(**sent, headers={"X-API-Key": only[route.scope]})
                assert ours(response) is None, (where, response.text)
                refusals += 1
            else:
                response = await client.request(
                    **route.request(INSIDE), headers={"X-API-Key": scopeless}
                )
                assert ours(response) is None, (where, response.text)
            headers = {"X-API-Key": restricted}
            outside = await client.request(**route.request(OUTSIDE), headers=headers)
            inside = await client.request(**route.request(INSIDE), headers=headers)
            assert ours(inside) is None, (where, inside.text)
            if route.model is not None:
                assert ours(outside) == "model_not_allowed", (where, outside.text)
                assert outside.json()["error"]["param"] == "model"
                refusals += 1
            else:
                assert ours(outside) is None, (where, outside.text)
    denied = [e.details["reason"] for e in probe.events if e.action == "api_key.denied"]
    assert len(denied) == refusals
