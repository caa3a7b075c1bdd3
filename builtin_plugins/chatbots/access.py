"""Who may see and use a chatbot or a conversation.

A user sees their own chatbots and the conversations they had or their chatbots had; admins see
all. Anything else answers 404, exactly like a missing id. An API key invokes only its owner's
active chatbots, only those in its ``allowed_chatbots`` (403), and only if it may use the
chatbot's model (403).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from builtin_plugins.chatbots.payloads import Chatbot, ConversationView
from builtin_plugins.chatbots.runtime import ChatbotsRuntime
from builtin_plugins.chatbots.store import get_chatbot
from kernel.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from kernel.gate import request_context
from kernel.roles import is_admin
from kernel.services import KeyPolicy
from kernel.types import Principal, RequestContext

__all__ = [
    "context",
    "invocable",
    "require_invocable",
    "visible_chatbot",
    "visible_conversation",
]


def context(request: Request[Any, Any, Any]) -> tuple[RequestContext, Principal]:
    """The request's context and its (required) principal."""
    ctx = request_context(request.scope)
    if ctx is None or ctx.principal is None:
        raise AuthenticationError("You didn't provide valid credentials.")
    return ctx, ctx.principal


async def visible_chatbot(
    runtime: ChatbotsRuntime, principal: Principal, chatbot_id: str
) -> Chatbot:
    """The chatbot if ``principal``'s user owns it or is an admin; 404 otherwise."""
    chatbot = await get_chatbot(runtime.kernel.stores.db, chatbot_id)
    if chatbot is None or (chatbot.owner_id != principal.owner_id and not is_admin(principal)):
        raise NotFoundError(f"No chatbot with id '{chatbot_id}'.", param="chatbot_id")
    return chatbot


async def invocable(
    runtime: ChatbotsRuntime, principal: Principal, policy: KeyPolicy, chatbot_id: str
) -> Chatbot:
    """The chatbot ``principal`` may chat with now (404, then 403 for key restrictions)."""
    chatbot = await visible_chatbot(runtime, principal, chatbot_id)
    require_invocable(principal, policy, chatbot)
    return chatbot


def require_invocable(principal: Principal, policy: KeyPolicy, chatbot: Chatbot) -> None:
    """PermissionDeniedError unless ``principal`` may chat with its visible ``chatbot``."""
    policy.require_chatbot_allowed(principal, chatbot.id)
    if not principal.may_use_model(chatbot.model):
        raise PermissionDeniedError(
            f"This API key may not use the model `{chatbot.model}` of this chatbot.",
            param="model",
            code="model_not_allowed",
        )
    if not chatbot.is_active:
        raise PermissionDeniedError("This chatbot is not active.", code="chatbot_inactive")


async def visible_conversation(
    runtime: ChatbotsRuntime, principal: Principal, conversation_id: str
) -> ConversationView:
    """The conversation if ``principal``'s user had it, owns its chatbot, or is an admin."""
    store = runtime.conversations
    found = await store.get(conversation_id)
    if found.owner_id == principal.owner_id or is_admin(principal):
        return found
    chatbot = await get_chatbot(runtime.kernel.stores.db, found.chatbot_id)
    if chatbot is None or chatbot.owner_id != principal.owner_id:
        raise NotFoundError(f"No conversation with id '{conversation_id}'.")
    return found
