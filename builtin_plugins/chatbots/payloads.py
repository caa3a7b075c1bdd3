"""What the chatbot API reads and answers: configs, conversations and their messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from builtin_plugins.chatbots.presets import Preset
from kernel.services import Passage, RetrievalMode

__all__ = [
    "Chatbot",
    "ChatbotInput",
    "ChatbotList",
    "ChatbotUpdate",
    "ConversationList",
    "ConversationView",
    "MessageView",
    "Retrieval",
    "SimpleChat",
    "SimpleChatAnswer",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Text = Annotated[str, msgspec.Meta(max_length=20_000)]
ModelId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Temperature = Annotated[float, msgspec.Meta(ge=0.0, le=2.0)]
TopP = Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]
MaxTokens = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Turns = Annotated[int, msgspec.Meta(ge=0, le=100)]
Providers = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]], msgspec.Meta(max_length=16)
]
Region = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
Verification = Literal["async", "strict_trailer", "strict"]


class Retrieval(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which collections feed the prompt and how passages are picked and shown."""

    collections: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]],
        msgspec.Meta(min_length=1, max_length=16),
    ]
    top_k: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    # Bounded, which also refuses NaN and infinity (a NaN threshold would match nothing).
    score_threshold: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)] | None = None
    mode: RetrievalMode = "hybrid"
    cite_sources: bool = True


class ChatbotInput(msgspec.Struct, forbid_unknown_fields=True):
    """A new chatbot; fields left out come from its preset."""

    name: Name
    model: ModelId
    preset: Preset = "assistant"
    description: Text = ""
    system_prompt: Text | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_tokens: MaxTokens | None = None
    memory_turns: Turns | None = None
    retrieval: Retrieval | None = None
    preferred_providers: Providers = []
    allowed_providers: Providers = []
    required_region: Region | None = None
    response_verification: Verification | None = None
    """At least this answer verification (stricter than the key's or the deployment's only)."""
    is_active: bool = True


class ChatbotUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to change (a preset change fills nothing: presets apply at creation)."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    model: ModelId | msgspec.UnsetType = msgspec.UNSET
    preset: Preset | msgspec.UnsetType = msgspec.UNSET
    description: Text | msgspec.UnsetType = msgspec.UNSET
    system_prompt: Text | msgspec.UnsetType = msgspec.UNSET
    temperature: Temperature | msgspec.UnsetType | None = msgspec.UNSET
    top_p: TopP | msgspec.UnsetType | None = msgspec.UNSET
    max_tokens: MaxTokens | msgspec.UnsetType | None = msgspec.UNSET
    memory_turns: Turns | msgspec.UnsetType = msgspec.UNSET
    retrieval: Retrieval | msgspec.UnsetType | None = msgspec.UNSET
    preferred_providers: Providers | msgspec.UnsetType = msgspec.UNSET
    allowed_providers: Providers | msgspec.UnsetType = msgspec.UNSET
    required_region: Region | msgspec.UnsetType | None = msgspec.UNSET
    response_verification: Verification | msgspec.UnsetType | None = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET


class Chatbot(msgspec.Struct, frozen=True, kw_only=True):
    """A stored chatbot, as its owner (or an admin) sees it."""

    id: str
    owner_id: str
    name: str
    description: str
    preset: str
    model: str
    system_prompt: str
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    memory_turns: int
    retrieval: Retrieval | None
    preferred_providers: list[str]
    allowed_providers: list[str]
    required_region: str | None
    response_verification: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ChatbotList(msgspec.Struct):
    data: list[Chatbot]
    object: str = "list"


class MessageView(msgspec.Struct, frozen=True, kw_only=True):
    """One stored message, decrypted for its reader."""

    role: Literal["system", "user", "assistant"]
    content: str
    created_at: datetime
    tokens: int | None = None
    sources: list[Passage] = []


class ConversationView(msgspec.Struct, kw_only=True):
    """A conversation; ``messages`` only when one conversation is read."""

    id: str
    chatbot_id: str
    owner_id: str
    created_at: datetime
    updated_at: datetime
    messages: list[MessageView] | None = None


class ConversationList(msgspec.Struct):
    data: list[ConversationView]
    total: int
    limit: int
    offset: int


class SimpleChat(msgspec.Struct, forbid_unknown_fields=True):
    """``POST .../chat``: one new user message, in a conversation or a new one."""

    message: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]
    conversation_id: str | None = None
    stream: bool = False


class SimpleChatAnswer(msgspec.Struct, kw_only=True):
    response: str
    conversation_id: str
    sources: list[Passage]
    usage: dict[str, int] | None
