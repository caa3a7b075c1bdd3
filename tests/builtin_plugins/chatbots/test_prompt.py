"""Prompt building: sources numbered in the system message, memory trimmed oldest first."""

from __future__ import annotations

from datetime import UTC, datetime

from builtin_plugins.chatbots.prompt import EXCERPT_CHARS, build_messages, estimate_tokens, excerpt
from kernel.services import ConversationMessage, Passage

NOW = datetime.now(UTC)


def _turns(count: int, words: int = 50) -> list[ConversationMessage]:
    found = []
    for i in range(count):
        found.append(
            ConversationMessage(role="user", content=f"q{i} " + "x" * words * 4, created_at=NOW)
        )
        found.append(
            ConversationMessage(
                role="assistant", content=f"a{i} " + "y" * words * 4, created_at=NOW
            )
        )
    return found


def _passage(i: int, text: str = "text") -> Passage:
    return Passage(
        collection_id="c",
        document_id=f"d{i}",
        document_name=f"doc{i}",
        position=i,
        text=text,
        score=1.0,
    )


def test_everything_fits_in_order() -> None:
    new = [{"role": "user", "content": "now"}]
    messages, kept = build_messages(
        system_prompt="Be brief.",
        passages=[_passage(1)],
        cite=True,
        memory=_turns(2),
        new=new,
        budget=10_000,
    )
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[0]["content"].startswith("Be brief.\n\nAnswer using the numbered sources")
    assert "[1] doc1 (part 1):\ntext" in messages[0]["content"]
    assert messages[-1] == new[0]
    assert len(kept) == 1


def test_oldest_turns_go_first_then_passages() -> None:
    new = [{"role": "user", "content": "now"}]
    memory = _turns(5)
    messages, kept = build_messages(
        system_prompt="", passages=[], cite=False, memory=memory, new=new, budget=250
    )
    assert estimate_tokens(messages) <= 250
    assert messages[0]["content"].startswith("q3") or messages[0]["content"].startswith("q4")
    assert messages[0]["role"] == "user"
    big = [_passage(i, "z" * 400) for i in range(5)]
    messages, kept = build_messages(
        system_prompt="", passages=big, cite=True, memory=memory, new=new, budget=300
    )
    assert [m["role"] for m in messages] == ["system", "user"]
    assert 0 < len(kept) < 5
    assert [p.document_id for p in kept] == [f"d{i}" for i in range(len(kept))]


def test_excerpts_are_short() -> None:
    cut = excerpt(_passage(1, "w" * 1000))
    assert len(cut.text) == EXCERPT_CHARS
    assert cut.text.endswith("…")
