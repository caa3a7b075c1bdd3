"""Conversations the caller had or their chatbots had (an admin's: all): the list, one read with
its messages and sources, its export (the internal API's JSON or Markdown download passed on)
and delete."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.pages_playground import conversation_path, shown_messages
from builtin_plugins.dashboard.render import SECURITY_HEADERS, Pages
from builtin_plugins.dashboard.session import load_viewer
from builtin_plugins.dashboard.signed_in import act
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["CONVERSATION_HANDLERS"]

URL = "/dashboard/conversations"
_PAGE = 50


async def _chatbot_names(api: InternalApi) -> dict[str, str]:
    answer = await api.call("GET", "/chatbots")
    if not answer.ok or not isinstance(answer.body, dict):
        return {}
    return {str(bot["id"]): str(bot["name"]) for bot in answer.body["data"]}


@get("/conversations")
async def conversations_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    chatbot: FromQuery[str] = "",
    page: FromQuery[int] = 1,
) -> Response[Any]:
    """The latest conversations, of one chatbot when ``chatbot`` is given."""
    viewer = await load_viewer(request)
    api = InternalApi(request, viewer.token)
    number = max(page, 1)
    params: dict[str, Any] = {"limit": _PAGE, "offset": (number - 1) * _PAGE}
    if chatbot:
        params["chatbot_id"] = chatbot
    answer = await api.call("GET", "/conversations", params=params)
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    total = int(answer.body["total"])
    return pages.page(
        "chatbots_conversations.html",
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        conversations=answer.body["data"],
        names=await _chatbot_names(api),
        chatbot=chatbot,
        page=number,
        total=total,
        more=number * _PAGE < total,
    )


@get("/conversations/{conversation_id:str}")
async def conversation_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    conversation_id: FromPath[str],
) -> Response[Any]:
    """One conversation with its messages and the sources of each answer."""
    viewer = await load_viewer(request)
    api = InternalApi(request, viewer.token)
    answer = await api.call("GET", conversation_path(conversation_id))
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    names = await _chatbot_names(api)
    return pages.page(
        "chatbots_conversation.html",
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        conversation=answer.body,
        messages=shown_messages(answer.body),
        chatbot_name=names.get(str(answer.body["chatbot_id"]), ""),
    )


@get("/conversations/{conversation_id:str}/export")
async def export_conversation(
    request: Request[Any, Any, Any],
    conversation_id: FromPath[str],
    format: FromQuery[str] = "json",
) -> Response[bytes]:
    """The conversation as the internal API's JSON or Markdown attachment."""
    viewer = await load_viewer(request)
    path = f"{conversation_path(conversation_id)}/export"
    download = await InternalApi(request, viewer.token).download(path, {"format": format})
    headers = {**SECURITY_HEADERS, "content-disposition": download.disposition}
    return Response(download.content, media_type=download.media_type, headers=headers)


@post("/conversations/{conversation_id:str}/delete")
async def delete_conversation(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    conversation_id: FromPath[str],
) -> Response[Any]:
    """Delete a conversation and its messages."""
    return await act(request, kernel, "DELETE", conversation_path(conversation_id), URL)


CONVERSATION_HANDLERS = [
    conversations_page,
    conversation_page,
    export_conversation,
    delete_conversation,
]
