"""``llm-chat``: a sandboxed plugin's chat call through the gateway, as the plugin itself.

The call is an ``Exchange`` of kind ``plugin`` with a ``plugin`` principal, so it passes the
same guards as any other (the plugin's own budget, a usage record naming the plugin), routing,
attestation and verification. Streaming is not offered; the answer comes back whole.
"""

from __future__ import annotations

import msgspec

from kernel.errors import EnclavaError, error_of_answer
from kernel.exchange import Exchange, completion_limits
from kernel.logs import new_request_id
from kernel.runtime import Kernel
from kernel.sandbox.host_types import LlmChat, LlmRefused
from kernel.services import ChatGateway
from kernel.types import Principal

__all__ = ["plugin_chat", "plugin_principal"]


class _Call(msgspec.Struct):
    model: str


def plugin_principal(plugin: str) -> Principal:
    """Who a plugin's own calls run as: ``plugin`` principal owned by ``plugin:<name>``."""
    return Principal(kind="plugin", id=plugin, owner_id=f"plugin:{plugin}")


def plugin_chat(kernel: Kernel) -> LlmChat:
    """The ``llm-chat`` implementation for ``kernel``'s plugins."""

    async def chat(plugin: str, body: bytes) -> bytes:
        try:
            gateway = kernel.service(ChatGateway)
            call = msgspec.json.decode(body, type=_Call)
            exchange = Exchange(
                request_id=new_request_id(),
                kind="plugin",
                endpoint="/chat/completions",
                principal=plugin_principal(plugin),
                model=call.model,
                body=body,
                stream=False,
                max_tokens=completion_limits(body).max_tokens,
                plugin=plugin,
            )
            answer = await gateway.complete(exchange)
        except EnclavaError as exc:
            raise LlmRefused(f"{exc.code or exc.error_type}: {exc.message}") from None
        except msgspec.DecodeError as exc:
            raise LlmRefused(f"invalid_request_error: {exc}") from None
        if answer.status != 200:
            code, message = error_of_answer(answer.status, answer.body)
            raise LlmRefused(f"{code}: {message or 'the provider refused the request'}")
        return answer.body

    return chat
