"""A chatbot's playground: talk to it through the internal API's ``POST /chatbots/{id}/chat``,
the conversation kept (its id in the form and the address) and read back with its sources.

``static/playground.js`` sends the form asking for ``text/event-stream`` and gets the API's SSE
answer passed through as it is produced; without script the form posts normally and the page
comes back with the whole answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.pages_chatbots import chatbot_path
from builtin_plugins.dashboard.render import SECURITY_HEADERS, Pages, redirect
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.stream import one_chunk, open_stream
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel
from kernel.streaming import BodyStream

__all__ = ["PLAYGROUND_HANDLERS", "conversation_path", "shown_messages"]


def conversation_path(conversation_id: str) -> str:
    return f"/conversations/{quote(conversation_id, safe='')}"


def shown_messages(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The user's and the assistant's messages (the system prompt is not part of the talk)."""
    return [m for m in conversation.get("messages") or [] if m.get("role") != "system"]


def _playground_url(chatbot_id: str, conversation_id: str) -> str:
    url = f"/dashboard/chatbots/{quote(chatbot_id, safe='')}/playground"
    return f"{url}?{urlencode({'conversation': conversation_id})}" if conversation_id else url


async def _page(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    chatbot_id: str,
    conversation_id: str,
    *,
    error: str = "",
    status: int = 200,
    draft: str = "",
) -> Response[Any]:
    api = InternalApi(request, viewer.token)
    chatbot = await api.call("GET", chatbot_path(chatbot_id))
    if not chatbot.ok or not isinstance(chatbot.body, dict):
        raise ApiFailure(chatbot)
    messages: list[dict[str, Any]] = []
    if conversation_id:
        found = await api.call("GET", conversation_path(conversation_id))
        if not found.ok or not isinstance(found.body, dict):
            raise ApiFailure(found)
        messages = shown_messages(found.body)
    return pages.page(
        "chatbots_playground.html",
        status=status,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        chatbot=chatbot.body,
        conversation_id=conversation_id,
        messages=messages,
        error=error,
        draft=draft,
    )


@get("/chatbots/{chatbot_id:str}/playground")
async def playground_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    chatbot_id: FromPath[str],
    conversation: FromQuery[str] = "",
) -> Response[Any]:
    """The playground, continuing ``conversation`` when given."""
    viewer = await load_viewer(request)
    return await _page(request, kernel, pages, viewer, chatbot_id, conversation)


async def _streamed(
    request: Request[Any, Any, Any], viewer: Viewer, chatbot_id: str, body: dict[str, Any]
) -> Response[Any] | Stream:
    """The API's SSE answer passed through; its refusal as the API's JSON error."""
    answer = await open_stream(
        request,
        viewer.token,
        "POST",
        f"{chatbot_path(chatbot_id)}/chat",
        body=one_chunk(msgspec.json.encode({**body, "stream": True})),
        content_type="application/json",
    )
    media = answer.headers.get("content-type", "application/json")
    if not answer.ok or not media.startswith("text/event-stream"):
        content = await answer.read()
        return Response(
            content, status_code=answer.status, media_type=media, headers=SECURITY_HEADERS
        )
    headers = {**SECURITY_HEADERS, "cache-control": "no-cache", "x-accel-buffering": "no"}
    return BodyStream(
        answer.chunks(), status_code=200, media_type="text/event-stream", headers=headers
    )


@post("/chatbots/{chatbot_id:str}/playground")
async def playground_send(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    chatbot_id: FromPath[str],
) -> Response[Any] | Stream:
    """One message to the chatbot: streamed when the page asks for SSE, else the page again."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    conversation_id = form.text("conversation_id")
    body: dict[str, Any] = {"message": form.text("message")}
    if conversation_id:
        body["conversation_id"] = conversation_id
    if "text/event-stream" in request.headers.get("accept", ""):
        return await _streamed(request, viewer, chatbot_id, body)
    api = InternalApi(request, viewer.token)
    answer = await api.call("POST", f"{chatbot_path(chatbot_id)}/chat", json=body)
    if answer.ok and isinstance(answer.body, dict):
        return redirect(request, _playground_url(chatbot_id, str(answer.body["conversation_id"])))
    if answer.status in {401, 404}:
        raise ApiFailure(answer)
    return await _page(
        request,
        kernel,
        pages,
        viewer,
        chatbot_id,
        conversation_id,
        error=answer.message,
        status=answer.status,
        draft=form.text("message"),
    )


PLAYGROUND_HANDLERS = [playground_page, playground_send]
