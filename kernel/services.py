"""Contracts between plugins: what one plugin offers the others, as ``typing.Protocol``\\ s.

A plugin never imports another plugin's modules. It publishes objects through the
``enclava_services`` hook (a :class:`Service` per contract) and a consumer asks the kernel for one
by type: ``kernel.service(ChatGateway)`` — or, in a route handler, declares a parameter provided
by :func:`kernel.dependencies.service`. A contract whose plugin is disabled (or absent) raises
:class:`ServiceMissingError` (503 ``service_unavailable``) naming that plugin.

The Protocols are ``runtime_checkable`` because Litestar checks injected values against the
parameter's type. The structs here are the values that cross plugin boundaries; they are plain
data, so a consumer never depends on a provider's internal types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import msgspec

from kernel.errors import ServiceUnavailableError
from kernel.types import Principal

if TYPE_CHECKING:
    from kernel.exchange import Exchange
    from kernel.storage.sql import Database

__all__ = [
    "AttestationEntry",
    "AttestationOverview",
    "BudgetQueries",
    "BudgetStatus",
    "ChatGateway",
    "ChatbotDirectory",
    "ConversationMessage",
    "ConversationStore",
    "GatewayAnswer",
    "GatewayStream",
    "KeyPolicy",
    "Passage",
    "ProviderCircuits",
    "ProviderSimulators",
    "RetrievalMode",
    "Retriever",
    "Service",
    "ServiceMissingError",
    "SimulatedTrust",
    "UserDirectory",
    "UserRecord",
]


class Service(msgspec.Struct, frozen=True):
    """One contract a plugin fulfils: ``implementation`` satisfies the Protocol ``contract``."""

    contract: type[Any]
    implementation: Any


class ServiceMissingError(ServiceUnavailableError):
    """No enabled plugin provides the contract asked for (503, the message names the plugin)."""

    def __init__(self, contract: type[Any], provider: str | None) -> None:
        if provider is None:
            message = f"No plugin provides {contract.__name__}."
        else:
            message = (
                f"{contract.__name__} is provided by the plugin '{provider}', which is disabled."
            )
        super().__init__(message)
        self.contract = contract
        self.provider = provider


# --- the chat and embeddings gateway (plugin ``llm``) -------------------------------------------


@runtime_checkable
class GatewayAnswer(Protocol):
    """A whole answer: the provider's status and body, with the gateway's headers."""

    @property
    def status(self) -> int: ...

    @property
    def body(self) -> bytes: ...

    @property
    def content_type(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...


@runtime_checkable
class GatewayStream(Protocol):
    """A streamed answer whose first bytes arrived: SSE events to relay, headers to send.

    Each chunk of ``events`` holds one or more complete events (``data: ...\\n\\n``; those of
    one upstream read go together), never part of one: split a chunk to read its events."""

    @property
    def events(self) -> AsyncIterator[bytes]: ...

    @property
    def headers(self) -> dict[str, str]: ...


@runtime_checkable
class ChatGateway(Protocol):
    """Admits, routes, calls and verifies one model call (chat or embeddings) like the public API
    does: the exchange passes the same guards (budgets), filters, routing, attestation and
    verification, and its usage is recorded under ``exchange.principal``."""

    async def complete(self, exchange: Exchange, *, key_region: str | None = None) -> GatewayAnswer:
        """A non-streamed chat completion or an embeddings call."""
        ...

    async def stream(
        self, exchange: Exchange, *, keep_usage: bool, key_region: str | None = None
    ) -> GatewayStream:
        """A streamed chat completion; consuming ``events`` to the end finishes the exchange."""
        ...


# --- API key policy (plugin ``api_keys``) -------------------------------------------------------


@runtime_checkable
class KeyPolicy(Protocol):
    """Restrictions an API key carries beyond scopes and models (which the kernel gate enforces).

    Users and plugins are not restricted here: their access is decided by roles and ownership.
    """

    def response_verification(self, principal: Principal | None) -> str | None:
        """The answer verification the key requires at least (``async``, ``strict_trailer``,
        ``strict``), or None; a chatbot's stricter one, on any caller it is set on."""
        ...

    def require_chatbot_allowed(self, principal: Principal | None, chatbot_id: str) -> None:
        """PermissionDeniedError (403 ``chatbot_not_allowed``) unless the key may use it."""
        ...

    def require_collection_allowed(self, principal: Principal | None, collection_id: str) -> None:
        """PermissionDeniedError (403 ``collection_not_allowed``) unless the key may use it."""
        ...

    async def key_ids_owned_by(self, owner_id: str) -> list[str]:
        """The ids of every API key ``owner_id`` owns (revoked ones included)."""
        ...


# --- users (plugin ``auth``) ---------------------------------------------------------------------


class UserRecord(msgspec.Struct, frozen=True):
    """What other plugins may know about a user account."""

    id: str
    email: str
    roles: frozenset[str]
    active: bool


@runtime_checkable
class UserDirectory(Protocol):
    """Looks user accounts up in ``db`` (the kernel's, or one a CLI command opened); never
    exposes password hashes or sessions."""

    async def by_email(self, db: Database, email: str) -> UserRecord | None: ...

    async def by_id(self, db: Database, user_id: str) -> UserRecord | None: ...

    def email_hash(self, email: str) -> str:
        """The keyed hash under which security events name an email address."""
        ...

    async def create(
        self,
        db: Database,
        *,
        email: str,
        password: str,
        role: str,
        force_password_change: bool = True,
    ) -> UserRecord:
        """A new account (the password checked against the policy and hashed);
        InvalidRequestError for a bad role or password, ConflictError when the email is taken."""
        ...


# --- budgets and usage (plugin ``usage``) --------------------------------------------------------


class BudgetStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A budget in its current period; ``spent_micros`` includes reservations in flight.

    Amounts are integer micro-units of ``currency`` (1 = 0.000001).
    """

    id: str
    name: str
    owner_type: Literal["user", "api_key", "plugin", "chatbot"]
    owner_id: str
    period: str
    period_start: datetime | None
    period_end: datetime | None
    limit_micros: int
    spent_micros: int
    remaining_micros: int
    currency: str
    hard: bool
    warning_percent: int | None
    warning_reached: bool


@runtime_checkable
class BudgetQueries(Protocol):
    """Budgets and recorded spend."""

    async def budgets_of(self, principal: Principal) -> list[BudgetStatus]:
        """The budgets on ``principal``'s user and on each of that user's keys."""
        ...

    async def spent_since(self, owner_id: str, since: datetime) -> int:
        """Micro-units ``owner_id``'s user spent since ``since`` (recorded usage, every key)."""
        ...


# --- attestation (plugin ``attestation``) --------------------------------------------------------


class AttestationEntry(msgspec.Struct, kw_only=True):
    """What clients may know about one provider model's attestation."""

    provider: str
    model: str
    upstream_model: str
    verified: bool
    label: str
    reason: str
    scheme: str | None = None
    checked_at: datetime | None = None
    expires_at: datetime | None = None
    tcb_status: str | None = None
    gpu_checked: bool = False
    signing_key: str | None = None
    measurements: dict[str, str] = {}


@runtime_checkable
class AttestationOverview(Protocol):
    """The current verdict for every model of every enabled provider."""

    async def entries(self) -> list[AttestationEntry]: ...


# --- retrieval (plugin ``rag``) ------------------------------------------------------------------

RetrievalMode = Literal["dense", "sparse", "hybrid"]


class Passage(msgspec.Struct, frozen=True, kw_only=True):
    """One retrieved chunk with where it came from."""

    collection_id: str
    document_id: str
    document_name: str
    position: int
    text: str
    score: float
    page: int | None = None
    section: str | None = None


@runtime_checkable
class Retriever(Protocol):
    """Searches the collections ``principal`` may read; never another owner's text."""

    async def retrieve(
        self,
        principal: Principal,
        *,
        collections: Sequence[str],
        query: str,
        top_k: int = 5,
        score_threshold: float | None = None,
        mode: RetrievalMode = "hybrid",
    ) -> list[Passage]: ...


# --- conversations (plugin ``chatbots``) ---------------------------------------------------------


class ConversationMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One stored turn of a conversation (the text is encrypted at rest by the store)."""

    role: Literal["system", "user", "assistant"]
    content: str
    created_at: datetime
    tokens: int | None = None
    sources: list[Passage] = []


@runtime_checkable
class ConversationStore(Protocol):
    """Conversations with a stable id across turns, owned by a principal's owner."""

    async def create(self, *, owner_id: str, chatbot_id: str) -> str: ...

    async def append(
        self, conversation_id: str, messages: Sequence[ConversationMessage]
    ) -> None: ...

    async def recent(self, conversation_id: str, *, turns: int) -> list[ConversationMessage]:
        """The last ``turns`` user/assistant pairs, oldest first."""
        ...


@runtime_checkable
class ChatbotDirectory(Protocol):
    """Who owns which chatbot (budgets on a chatbot are kept, authorised and shown with its
    owner's). An owner never changes, so consumers may cache ``owner_of``."""

    async def owner_of(self, chatbot_id: str) -> str | None:
        """The id of the user owning ``chatbot_id``, or None when there is no such chatbot."""
        ...

    async def chatbot_ids_owned_by(self, owner_id: str) -> list[str]:
        """The ids of every chatbot ``owner_id`` owns."""
        ...


# --- demo mode (plugins ``simulators`` and ``attestation``) --------------------------------------


@runtime_checkable
class ProviderSimulators(Protocol):
    """SIMULATED providers with public test keys, run inside this process (demo mode, tests)."""

    def serve(
        self, kind: str, *, host: str, port: int, api_key: str
    ) -> AbstractAsyncContextManager[str]:
        """Run the ``kind`` simulator (``privatemode``, ``redpill``) on ``host``:``port``,
        accepting ``api_key``, for the block's duration; yields its OpenAI-compatible base URL."""
        ...


@runtime_checkable
class SimulatedTrust(Protocol):
    """Trust the simulators' test root instead of Intel DCAP (demo mode only): verdicts are
    labelled ``simulated`` and only providers on loopback attest."""

    def trust_simulators(self, enabled: bool) -> None:
        """Switch the simulated trust on, or back to the production anchor (forgets verdicts)."""
        ...


# --- provider circuits (plugin ``llm``) -----------------------------------------------------------


@runtime_checkable
class ProviderCircuits(Protocol):
    """The circuit breakers the router keeps per provider, as this replica sees them."""

    def circuit_state(self, provider: str) -> Literal["closed", "open", "half_open"]:
        """``closed`` (routed to), ``open`` (skipped) or ``half_open`` (one probe at a time);
        ``closed`` while the gateway has not started."""
        ...
