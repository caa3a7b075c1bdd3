"""The key edit form: the choices it offers (scopes the app's routes declare, provider regions,
the owner's chatbots and collections) and the ``PATCH /api-keys/{id}`` body its fields make.
The internal API validates every value; this only turns form text into JSON types."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Litestar

from builtin_plugins.dashboard.api import InternalApi
from builtin_plugins.dashboard.forms import Form, split_list
from kernel.access import SCOPE_OPT

__all__ = ["VERIFICATIONS", "KeyChoices", "declared_scopes", "key_changes", "key_choices"]

VERIFICATIONS = ("async", "strict_trailer", "strict")
"""The per-key response verification levels the internal API accepts (a key only tightens)."""
_OPTIONS_LIMIT = 200


class KeyChoices(msgspec.Struct, frozen=True, kw_only=True):
    """What the edit form lets a user pick from (current values always included)."""

    scopes: list[tuple[str, str]]
    regions: list[str]
    chatbots: list[tuple[str, str]]
    collections: list[tuple[str, str]]


def declared_scopes(app: Litestar) -> set[str]:
    """Every scope a route of this app requires."""
    found: set[str] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            scope = handler.opt.get(SCOPE_OPT)
            if isinstance(scope, str):
                found.add(scope)
    return found


async def _named(api: InternalApi, path: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    answer = await api.call("GET", path, params=params)
    if not answer.ok or not isinstance(answer.body, dict):
        return []
    return [(str(item["id"]), str(item.get("name", item["id"]))) for item in answer.body["data"]]


def _with(current: list[str], options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    known = {ident for ident, _ in options}
    return options + [(ident, ident) for ident in current if ident not in known]


async def key_choices(
    api: InternalApi, app: Litestar, regions: frozenset[str], key: dict[str, Any]
) -> KeyChoices:
    """The choices for editing ``key`` (its owner's chatbots and collections)."""
    owner = {"owner_id": key["owner_id"]}
    chatbots, collections = await asyncio.gather(
        _named(api, "/chatbots", {}),
        _named(api, "/rag/collections", {"limit": _OPTIONS_LIMIT, **owner}),
    )
    return KeyChoices(
        scopes=[(s, s) for s in sorted(declared_scopes(app) | set(key["scopes"]))],
        regions=sorted(regions | ({key["required_region"]} - {None})),
        chatbots=_with(list(key["allowed_chatbots"]), chatbots),
        collections=_with(list(key["allowed_collections"]), collections),
    )


def _limit(text: str) -> int | str | None:
    """The rate limit as a number; text the API will refuse stays text (its message shows)."""
    if not text:
        return None
    return int(text) if text.isdigit() else text


def key_changes(form: Form) -> dict[str, Any]:
    """The PATCH body: every restriction as the form shows it; expiry only when changed."""
    body: dict[str, Any] = {
        "name": form.text("name"),
        "scopes": form.values("scopes"),
        "allowed_models": split_list(form.text("allowed_models")),
        "allowed_ips": split_list(form.text("allowed_ips")),
        "allowed_chatbots": form.values("allowed_chatbots"),
        "allowed_collections": form.values("allowed_collections"),
        "required_region": form.text("required_region") or None,
        "response_verification": form.text("response_verification") or None,
        "rate_limit_per_minute": _limit(form.text("rate_limit_per_minute")),
    }
    expires = form.text("expires_on")
    if expires != form.text("expires_was"):
        body["expires_at"] = f"{expires}T23:59:59Z" if expires else None
    return body
