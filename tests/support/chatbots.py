"""Chatbot test helpers: a recording chat filter (what the provider is sent), a fake retriever
published through ``enclava_services`` (the contract), users with keys, chatbot creation."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from kernel.exchange import Exchange
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import Passage, RetrievalMode, Retriever, Service
from kernel.types import Principal
from support.gateway import Env
from support.identity import create_user, login


class RecordingFilter:
    """Remembers the messages of every chat request as forwarded (after the chatbot built it)."""

    name = "recording"
    order = 1
    fail_open = False

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def on_request(self, exchange: Exchange, request: dict[str, Any]) -> None:
        self.requests.append({"exchange": exchange, **request})

    async def on_response(self, exchange: Exchange, response: dict[str, Any]) -> None:
        return None


class FakeRetriever:
    """Two passages per call, recording what it was asked."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def retrieve(
        self,
        principal: Principal,
        *,
        collections: Sequence[str],
        query: str,
        top_k: int = 5,
        score_threshold: float | None = None,
        mode: RetrievalMode = "hybrid",
    ) -> list[Passage]:
        self.calls.append({"collections": list(collections), "query": query, "top_k": top_k})
        return [
            Passage(
                collection_id=collections[0],
                document_id="doc-1",
                document_name="handbook.pdf",
                position=3,
                text="The office opens at nine o'clock sharp.",
                score=0.91,
            ),
            Passage(
                collection_id=collections[0],
                document_id="doc-2",
                document_name="faq.md",
                position=0,
                text="Parking is free on weekends.",
                score=0.55,
            ),
        ][:top_k]


class Helpers:
    PLUGIN_NAME = "chatbot_test_helpers"

    def __init__(self) -> None:
        self.filter = RecordingFilter()
        self.retriever = FakeRetriever()

    @hookimpl
    def enclava_chat_filters(self, kernel: Kernel) -> list[RecordingFilter]:
        return [self.filter]

    @hookimpl
    def enclava_services(self, kernel: Kernel) -> list[Service]:
        return [Service(contract=Retriever, implementation=self.retriever)]


class Owner:
    """A user with a JWT session and an API key."""

    def __init__(self, headers: dict[str, str], key: str, user_id: str) -> None:
        self.headers = headers
        self.key = key
        self.user_id = user_id


async def new_owner(env: Env, role: str = "user", **key_fields: Any) -> Owner:
    base = env.base_url.removesuffix("/api/v1")
    email = f"u-{uuid.uuid4().hex[:10]}@example.com"
    password = secrets.token_urlsafe(18)
    user_id = await create_user(env.app, email, password, role=role)  # type: ignore[arg-type]
    async with httpx.AsyncClient(base_url=base) as client:
        headers = await login(client, email, password)
        made = await client.post(
            "/api-internal/v1/api-keys", headers=headers, json={"name": "k", **key_fields}
        )
        assert made.status_code == 201, made.text
    return Owner(headers, made.json()["key"], user_id)


async def another_key(env: Env, owner: Owner, **fields: Any) -> str:
    """One more API key of ``owner``, with ``fields``."""
    async with internal(env) as client:
        made = await client.post("/api-keys", headers=owner.headers, json={"name": "k2", **fields})
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


def internal(env: Env) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=env.base_url.removesuffix("/api/v1") + "/api-internal/v1")


def public(env: Env) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=env.base_url, timeout=20)


async def create_chatbot(env: Env, owner: Owner, **fields: Any) -> dict[str, Any]:
    async with internal(env) as client:
        made = await client.post(
            "/chatbots",
            headers=owner.headers,
            json={"name": "bot", "model": "gpt-oss-120b", **fields},
        )
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result
