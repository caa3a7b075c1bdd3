"""The prompt a chatbot sends: system prompt with the numbered sources, memory, new messages.

Tokens are estimated (4 characters a token, plus a few per message) — a deliberate
over-estimate for Latin text, so the prompt fits the model's context with room for the answer.
Memory is trimmed first (oldest turns go), then the lowest-ranked passages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kernel.services import ConversationMessage, Passage

__all__ = ["EXCERPT_CHARS", "build_messages", "estimate_tokens", "excerpt", "text_of"]

EXCERPT_CHARS = 300
_PER_MESSAGE = 4


def text_of(content: object) -> str:
    """The text of a message ``content``: a string, or the ``text`` parts of a part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def estimate_tokens(messages: Sequence[dict[str, Any]]) -> int:
    return sum(len(text_of(m.get("content"))) // 4 + _PER_MESSAGE for m in messages)


def excerpt(passage: Passage) -> Passage:
    """``passage`` with its text cut to a short excerpt (what answers and storage carry)."""
    text = passage.text
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1].rstrip() + "…"
    return Passage(
        collection_id=passage.collection_id,
        document_id=passage.document_id,
        document_name=passage.document_name,
        position=passage.position,
        text=text,
        score=passage.score,
        page=passage.page,
        section=passage.section,
    )


def _system(system_prompt: str, passages: Sequence[Passage], cite: bool) -> list[dict[str, Any]]:
    parts = [system_prompt] if system_prompt else []
    if passages:
        intro = (
            "Answer using the numbered sources below; cite them as [n] where you use them."
            if cite
            else "Answer using the context below."
        )
        blocks = [
            f"[{i}] {p.document_name} (part {p.position}):\n{p.text}"
            for i, p in enumerate(passages, 1)
        ]
        parts.append("\n\n".join([intro, *blocks]))
    return [{"role": "system", "content": "\n\n".join(parts)}] if parts else []


def build_messages(
    *,
    system_prompt: str,
    passages: Sequence[Passage],
    cite: bool,
    memory: Sequence[ConversationMessage],
    new: Sequence[dict[str, Any]],
    budget: int,
) -> tuple[list[dict[str, Any]], list[Passage]]:
    """The messages to send and the passages kept, within ``budget`` tokens when possible
    (the new messages are never dropped)."""
    remembered = [{"role": m.role, "content": m.content} for m in memory]
    kept = list(passages)
    fixed = estimate_tokens(new)
    while (
        remembered
        and fixed + estimate_tokens([*_system(system_prompt, kept, cite), *remembered]) > budget
    ):
        remembered = remembered[2:] if remembered[0]["role"] == "user" else remembered[1:]
    while kept and fixed + estimate_tokens(_system(system_prompt, kept, cite)) > budget:
        kept.pop()
    return [*_system(system_prompt, kept, cite), *remembered, *new], kept
