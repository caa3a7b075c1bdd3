"""``/api/v1/chatbots``: the chatbots a key may invoke, and talking to one.

``POST /chatbots/{id}/chat/completions`` is OpenAI-compatible, so the official SDK works with
``base_url=".../api/v1/chatbots/{id}"``. The client sends only its new messages; the server
prepends the chatbot's prompt, retrieved sources and memory. The conversation id comes from the
body field ``conversation_id`` or the ``x-enclava-conversation-id`` header; a new one is created
when neither is given, and it is returned in that header and in the body (``conversation_id``,
with ``sources``; a stream carries both in a last chunk without choices before ``[DONE]``).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from builtin_plugins.chatbots.access import context, invocable, require_invocable
from builtin_plugins.chatbots.chat import CONVERSATION_HEADER, prepare_turn
from builtin_plugins.chatbots.openapi import completions_doc, simple_chat_doc
from builtin_plugins.chatbots.payloads import ChatbotList, SimpleChat, SimpleChatAnswer
from builtin_plugins.chatbots.runtime import runtime_for
from builtin_plugins.chatbots.serving import answer_turn, keeps_usage, stream_turn
from builtin_plugins.chatbots.store import list_chatbots
from kernel.dependencies import NamedDependency, service
from kernel.errors import InvalidRequestError, PermissionDeniedError
from kernel.openapi import OPERATION_DOC
from kernel.runtime import Kernel
from kernel.services import ChatGateway, KeyPolicy

__all__ = ["PUBLIC_ROUTES"]

SCOPE = "chatbots.invoke"
_SERVICES = {"gateway": service(ChatGateway), "policy": service(KeyPolicy)}


def _conversation_id(request: Request[Any, Any, Any], body: dict[str, Any]) -> str | None:
    header = request.headers.get(CONVERSATION_HEADER)
    field = body.get("conversation_id")
    if field is not None and not isinstance(field, str):
        raise InvalidRequestError("`conversation_id` must be a string.", param="conversation_id")
    if header and field and header != field:
        raise InvalidRequestError(
            "The conversation id in the header and in the body differ.", param="conversation_id"
        )
    return field or header or None


@get("/chatbots", opt={"enclava_scope": SCOPE}, dependencies={"policy": service(KeyPolicy)})
async def invocable_chatbots(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    policy: NamedDependency[KeyPolicy],
) -> ChatbotList:
    """The active chatbots of the key's owner that the key may invoke."""
    _, principal = context(request)
    found = []
    for chatbot in await list_chatbots(kernel.stores.db, owner_id=principal.owner_id):
        try:
            require_invocable(principal, policy, chatbot)
        except PermissionDeniedError:  # a refusal only hides the chatbot from this list
            continue
        found.append(chatbot)
    return ChatbotList(data=found)


@post(
    "/chatbots/{chatbot_id:str}/chat/completions",
    status_code=200,
    opt={"enclava_scope": SCOPE, "enclava_json_body": True, OPERATION_DOC: completions_doc()},
    dependencies=_SERVICES,
)
async def chatbot_completions(
    request: Request[Any, Any, Any],
    chatbot_id: FromPath[str],
    kernel: NamedDependency[Kernel],
    gateway: NamedDependency[ChatGateway],
    policy: NamedDependency[KeyPolicy],
) -> Response[bytes] | Stream:
    """Chat with a chatbot (OpenAI chat body; ``model`` is ignored: the chatbot's is used)."""
    ctx, principal = context(request)
    runtime = runtime_for(kernel)
    chatbot = await invocable(runtime, principal, policy, chatbot_id)
    try:
        body = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        raise InvalidRequestError("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    turn = await prepare_turn(
        runtime,
        chatbot,
        principal,
        request_id=ctx.request_id,
        body=body,
        conversation_id=_conversation_id(request, body),
    )
    if turn.exchange.stream:
        return await stream_turn(turn, gateway, keep_usage=keeps_usage(body))
    return await answer_turn(turn, gateway)


async def simple_chat(
    request: Request[Any, Any, Any],
    chatbot_id: str,
    data: JSONBody[SimpleChat],
    kernel: Kernel,
    gateway: ChatGateway,
    policy: KeyPolicy,
) -> Stream | Response[bytes]:
    """One message in, the answer with its conversation id, sources and usage out."""
    ctx, principal = context(request)
    runtime = runtime_for(kernel)
    chatbot = await invocable(runtime, principal, policy, chatbot_id)
    body = {"messages": [{"role": "user", "content": data.message}], "stream": data.stream}
    turn = await prepare_turn(
        runtime,
        chatbot,
        principal,
        request_id=ctx.request_id,
        body=body,
        conversation_id=data.conversation_id,
    )
    if data.stream:
        return await stream_turn(turn, gateway, keep_usage=False)
    status, raw, media, headers = await turn.complete(gateway)
    if status != 200:
        return Response(content=raw, status_code=status, media_type=media, headers=headers)
    answer = msgspec.json.decode(raw)
    message = ((answer.get("choices") or [{}])[0].get("message") or {}).get("content") or ""
    reply = SimpleChatAnswer(
        response=str(message),
        conversation_id=turn.conversation_id,
        sources=turn.sources,
        usage=answer.get("usage"),
    )
    return Response(
        content=msgspec.json.encode(reply), media_type="application/json", headers=headers
    )


@post(
    "/chatbots/{chatbot_id:str}/chat",
    status_code=200,
    opt={"enclava_scope": SCOPE, OPERATION_DOC: simple_chat_doc()},
    dependencies=_SERVICES,
)
async def chatbot_chat(
    request: Request[Any, Any, Any],
    chatbot_id: FromPath[str],
    data: JSONBody[SimpleChat],
    kernel: NamedDependency[Kernel],
    gateway: NamedDependency[ChatGateway],
    policy: NamedDependency[KeyPolicy],
) -> Stream | Response[bytes]:
    """``{message, conversation_id?}`` → ``{response, conversation_id, sources, usage}``."""
    return await simple_chat(request, chatbot_id, data, kernel, gateway, policy)


PUBLIC_ROUTES = [invocable_chatbots, chatbot_completions, chatbot_chat]
