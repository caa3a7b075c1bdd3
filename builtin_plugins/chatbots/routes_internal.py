"""``/api-internal/v1``: chatbot CRUD, the playground chat and conversations.

A user manages their own chatbots and reads the conversations they had or their chatbots had;
admins see all. Another user's chatbot or conversation answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream

from builtin_plugins.chatbots.access import context, visible_chatbot, visible_conversation
from builtin_plugins.chatbots.export import as_json, as_markdown
from builtin_plugins.chatbots.openapi import simple_chat_doc
from builtin_plugins.chatbots.payloads import (
    Chatbot,
    ChatbotInput,
    ChatbotList,
    ChatbotUpdate,
    ConversationList,
    ConversationView,
    MessageView,
    SimpleChat,
)
from builtin_plugins.chatbots.presets import PRESETS
from builtin_plugins.chatbots.routes_public import simple_chat
from builtin_plugins.chatbots.runtime import runtime_for
from builtin_plugins.chatbots.store import (
    delete_chatbot,
    get_chatbot,
    insert_chatbot,
    list_chatbots,
    update_chatbot,
)
from builtin_plugins.chatbots.validation import check_config, merged
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency, service
from kernel.errors import NotFoundError
from kernel.openapi import OPERATION_DOC
from kernel.roles import is_admin
from kernel.runtime import Kernel
from kernel.services import ChatGateway, KeyPolicy

__all__ = ["INTERNAL_ROUTES"]

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]


async def _audit(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    action: str,
    kind: str,
    resource: str,
    **details: Any,
) -> None:
    """One audit event per change (ids and field names only, never prompts or messages)."""
    ctx, _ = context(request)
    event = event_from_context(
        ctx,
        action=action,
        outcome="success",
        resource_type=kind,
        resource_id=resource,
        details=details,
    )
    await kernel.audit(event)


def _filled(data: ChatbotInput) -> dict[str, Any]:
    """The new chatbot's fields, the preset filling what was left out."""
    preset = PRESETS[data.preset]
    fields = msgspec.structs.asdict(data)
    if data.system_prompt is None:
        fields["system_prompt"] = preset.system_prompt
    if data.temperature is None:
        fields["temperature"] = preset.temperature
    if data.memory_turns is None:
        fields["memory_turns"] = preset.memory_turns
    return fields


@post("/chatbots")
async def create_chatbot(
    request: Request[Any, Any, Any], data: JSONBody[ChatbotInput], kernel: NamedDependency[Kernel]
) -> Chatbot:
    """Create a chatbot for the caller (400 when its model cannot be reached)."""
    _, principal = context(request)
    fields = _filled(data)
    await check_config(kernel, fields)
    chatbot = await insert_chatbot(kernel.stores.db, owner_id=principal.owner_id, fields=fields)
    await _audit(request, kernel, "chatbot.create", "chatbot", chatbot.id, model=chatbot.model)
    return chatbot


@get("/chatbots")
async def list_own_chatbots(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> ChatbotList:
    """The caller's chatbots (an admin's: everyone's)."""
    _, principal = context(request)
    owner = None if is_admin(principal) else principal.owner_id
    return ChatbotList(data=await list_chatbots(kernel.stores.db, owner_id=owner))


@get("/chatbots/presets")
async def list_presets() -> dict[str, Any]:
    """The presets and the defaults each fills in."""
    return {name: msgspec.structs.asdict(p) for name, p in PRESETS.items()}


@get("/chatbots/{chatbot_id:str}")
async def read_chatbot(
    request: Request[Any, Any, Any], chatbot_id: FromPath[str], kernel: NamedDependency[Kernel]
) -> Chatbot:
    _, principal = context(request)
    return await visible_chatbot(runtime_for(kernel), principal, chatbot_id)


@patch("/chatbots/{chatbot_id:str}")
async def change_chatbot(
    request: Request[Any, Any, Any],
    chatbot_id: FromPath[str],
    data: JSONBody[ChatbotUpdate],
    kernel: NamedDependency[Kernel],
) -> Chatbot:
    """Change fields; the result is validated like a new chatbot."""
    _, principal = context(request)
    chatbot = await visible_chatbot(runtime_for(kernel), principal, chatbot_id)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    await check_config(kernel, merged(chatbot, changes))
    await update_chatbot(kernel.stores.db, chatbot_id, changes)
    updated = await get_chatbot(kernel.stores.db, chatbot_id)
    if updated is None:
        raise NotFoundError(f"No chatbot with id '{chatbot_id}'.")
    await _audit(request, kernel, "chatbot.update", "chatbot", chatbot_id, fields=sorted(changes))
    return updated


@delete("/chatbots/{chatbot_id:str}")
async def remove_chatbot(
    request: Request[Any, Any, Any], chatbot_id: FromPath[str], kernel: NamedDependency[Kernel]
) -> None:
    """Delete a chatbot with all its conversations."""
    _, principal = context(request)
    await visible_chatbot(runtime_for(kernel), principal, chatbot_id)
    await delete_chatbot(kernel.stores.db, chatbot_id)
    await _audit(request, kernel, "chatbot.delete", "chatbot", chatbot_id)


@post(
    "/chatbots/{chatbot_id:str}/chat",
    status_code=200,
    opt={OPERATION_DOC: simple_chat_doc()},
    dependencies={"gateway": service(ChatGateway), "policy": service(KeyPolicy)},
)
async def playground_chat(
    request: Request[Any, Any, Any],
    chatbot_id: FromPath[str],
    data: JSONBody[SimpleChat],
    kernel: NamedDependency[Kernel],
    gateway: NamedDependency[ChatGateway],
    policy: NamedDependency[KeyPolicy],
) -> Stream | Response[bytes]:
    """The dashboard playground: like the public simple chat; ``stream: true`` for SSE."""
    return await simple_chat(request, chatbot_id, data, kernel, gateway, policy)


@get("/conversations")
async def list_conversations(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    chatbot_id: FromQuery[str | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ConversationList:
    """Conversations the caller had or their chatbots had (admins: all), latest first."""
    _, principal = context(request)
    viewer = None if is_admin(principal) else principal.owner_id
    found, total = await runtime_for(kernel).conversations.page(
        viewer=viewer, chatbot_id=chatbot_id, limit=limit, offset=offset
    )
    return ConversationList(data=found, total=total, limit=limit, offset=offset)


async def _with_messages(
    request: Request[Any, Any, Any], kernel: Kernel, conversation_id: str
) -> ConversationView:
    _, principal = context(request)
    runtime = runtime_for(kernel)
    found = await visible_conversation(runtime, principal, conversation_id)
    history = await runtime.conversations.history(conversation_id)
    found.messages = [msgspec.convert(m, MessageView, from_attributes=True) for m in history]
    return found


@get("/conversations/{conversation_id:str}")
async def read_conversation(
    request: Request[Any, Any, Any],
    conversation_id: FromPath[str],
    kernel: NamedDependency[Kernel],
) -> ConversationView:
    """A conversation with its messages (decrypted for the reader)."""
    return await _with_messages(request, kernel, conversation_id)


@get("/conversations/{conversation_id:str}/export")
async def export_conversation(
    request: Request[Any, Any, Any],
    conversation_id: FromPath[str],
    kernel: NamedDependency[Kernel],
    format: FromQuery[Literal["json", "markdown"]] = "json",
) -> Response[bytes]:
    """The conversation as a JSON or Markdown download."""
    found = await _with_messages(request, kernel, conversation_id)
    markdown = format == "markdown"
    name = f"conversation-{conversation_id}.{'md' if markdown else 'json'}"
    return Response(
        content=as_markdown(found) if markdown else as_json(found),
        media_type="text/markdown" if markdown else "application/json",  # Litestar adds charset
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@delete("/conversations/{conversation_id:str}")
async def remove_conversation(
    request: Request[Any, Any, Any],
    conversation_id: FromPath[str],
    kernel: NamedDependency[Kernel],
) -> None:
    _, principal = context(request)
    runtime = runtime_for(kernel)
    await visible_conversation(runtime, principal, conversation_id)
    await runtime.conversations.delete([conversation_id])
    await _audit(request, kernel, "conversation.delete", "conversation", conversation_id)


INTERNAL_ROUTES = [
    create_chatbot,
    list_own_chatbots,
    list_presets,
    read_chatbot,
    change_chatbot,
    remove_chatbot,
    playground_chat,
    list_conversations,
    read_conversation,
    export_conversation,
    remove_conversation,
]
