"""A conversation as a downloadable JSON document or Markdown transcript."""

from __future__ import annotations

import msgspec

from builtin_plugins.chatbots.payloads import ConversationView, MessageView

__all__ = ["as_json", "as_markdown"]


def as_json(conversation: ConversationView) -> bytes:
    return msgspec.json.format(msgspec.json.encode(conversation), indent=2)


def _message(message: MessageView) -> list[str]:
    lines = [f"### {message.role} — {message.created_at.isoformat()}", "", message.content, ""]
    if message.sources:
        lines.append("Sources:")
        lines += [
            f"{i}. {s.document_name} (part {s.position}, score {s.score:.3f})"
            for i, s in enumerate(message.sources, 1)
        ]
        lines.append("")
    return lines


def as_markdown(conversation: ConversationView) -> bytes:
    lines = [
        f"# Conversation {conversation.id}",
        "",
        f"- Chatbot: {conversation.chatbot_id}",
        f"- Started: {conversation.created_at.isoformat()}",
        "",
    ]
    for message in conversation.messages or []:
        lines += _message(message)
    return "\n".join(lines).encode()
