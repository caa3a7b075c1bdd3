"""Chatbots: the caller's list (an admin's: everyone's), create from a preset, edit and delete,
each through the internal API's ``/chatbots`` (which validates the config and names the field
of any error, shown next to it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from builtin_plugins.dashboard.api import ApiAnswer, ApiFailure, InternalApi
from builtin_plugins.dashboard.chatbot_form import (
    VERIFICATIONS,
    chatbot_body,
    chatbot_values,
    error_field,
    preset_values,
    raw_param,
    submitted_values,
)
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import Pages, redirect
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.signed_in import act
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["CHATBOT_HANDLERS", "chatbot_path"]

URL = "/dashboard/chatbots"
_MODES = ("hybrid", "dense", "sparse")


def chatbot_path(chatbot_id: str) -> str:
    return f"/chatbots/{quote(chatbot_id, safe='')}"


async def _listed(api: InternalApi, path: str, **params: Any) -> list[dict[str, Any]]:
    """``data`` of a list answer; empty when the API has none for the caller (RAG disabled)."""
    answer = await api.call("GET", path, params=params or None)
    if answer.ok and isinstance(answer.body, dict):
        return list(answer.body.get("data") or [])
    return []


async def _choices(api: InternalApi) -> dict[str, Any]:
    """What the form offers: presets, chat models and the caller's collections."""
    presets = await api.call("GET", "/chatbots/presets")
    models = [
        m for m in await _listed(api, "/models") if "generate" in m.get("tasks", ["generate"])
    ]
    collections = await _listed(api, "/rag/collections", limit=200)
    return {
        "presets": presets.body if presets.ok and isinstance(presets.body, dict) else {},
        "models": sorted({str(m["id"]) for m in models}),
        "collections": [(str(c["id"]), str(c["name"])) for c in collections],
        "verifications": VERIFICATIONS,
        "modes": _MODES,
    }


@get("/chatbots")
async def chatbots_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """The caller's chatbots (an admin's: everyone's)."""
    viewer = await load_viewer(request)
    answer = await InternalApi(request, viewer.token).call("GET", "/chatbots")
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    return pages.page(
        "chatbots_list.html",
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        chatbots=answer.body["data"],
    )


async def _form_page(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    *,
    values: dict[str, Any],
    chatbot_id: str | None = None,
    failed: ApiAnswer | None = None,
    saved: bool = False,
) -> Response[Any]:
    errors = {error_field(raw_param(failed.body)): failed.message} if failed else {}
    return pages.page(
        "chatbots_edit.html",
        status=failed.status if failed else 200,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        chatbot_id=chatbot_id,
        values=values,
        errors=errors,
        saved=saved,
        **await _choices(InternalApi(request, viewer.token)),
    )


@get("/chatbots/new")
async def new_chatbot_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    preset: FromQuery[str] = "assistant",
) -> Response[Any]:
    """The create form, filled with a preset's defaults."""
    viewer = await load_viewer(request)
    presets = await InternalApi(request, viewer.token).call("GET", "/chatbots/presets")
    known = presets.body if presets.ok and isinstance(presets.body, dict) else {}
    name = preset if preset in known else "assistant"
    values = preset_values(name, known.get(name, {}))
    return await _form_page(request, kernel, pages, viewer, values=values)


@post("/chatbots")
async def create_chatbot(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Create a chatbot; the API's refusal is shown next to the field it names."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    body = chatbot_body(form, creating=True)
    answer = await InternalApi(request, viewer.token).call("POST", "/chatbots", json=body)
    if answer.ok and isinstance(answer.body, dict):
        return redirect(request, f"{URL}/{quote(str(answer.body['id']), safe='')}")
    values = submitted_values(form)
    return await _form_page(request, kernel, pages, viewer, values=values, failed=answer)


@get("/chatbots/{chatbot_id:str}")
async def chatbot_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    chatbot_id: FromPath[str],
) -> Response[Any]:
    """One chatbot's settings (a form for those who may write)."""
    viewer = await load_viewer(request)
    answer = await InternalApi(request, viewer.token).call("GET", chatbot_path(chatbot_id))
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    values = chatbot_values(answer.body)
    return await _form_page(request, kernel, pages, viewer, values=values, chatbot_id=chatbot_id)


@post("/chatbots/{chatbot_id:str}")
async def update_chatbot(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    chatbot_id: FromPath[str],
) -> Response[Any]:
    """Save a chatbot's settings (validated by the API like a new one)."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    body = chatbot_body(form, creating=False)
    api = InternalApi(request, viewer.token)
    answer = await api.call("PATCH", chatbot_path(chatbot_id), json=body)
    if answer.ok and isinstance(answer.body, dict):
        values = chatbot_values(answer.body)
        return await _form_page(
            request, kernel, pages, viewer, values=values, chatbot_id=chatbot_id, saved=True
        )
    if answer.status == 404:
        raise ApiFailure(answer)
    return await _form_page(
        request,
        kernel,
        pages,
        viewer,
        values=submitted_values(form),
        chatbot_id=chatbot_id,
        failed=answer,
    )


@post("/chatbots/{chatbot_id:str}/delete")
async def delete_chatbot(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], chatbot_id: FromPath[str]
) -> Response[Any]:
    """Delete a chatbot with its conversations."""
    return await act(request, kernel, "DELETE", chatbot_path(chatbot_id), URL)


CHATBOT_HANDLERS = [
    chatbots_page,
    new_chatbot_page,
    create_chatbot,
    chatbot_page,
    update_chatbot,
    delete_chatbot,
]
