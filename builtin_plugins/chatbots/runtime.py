"""Per-kernel state of the chatbots plugin: the message cipher and the conversation store.

Kept in the kernel's stash (one per app, nothing at module level); rebuilt when the settings
object changes, so a new key takes effect without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence

from builtin_plugins.chatbots.cipher import MessageCipher
from builtin_plugins.chatbots.conversations import EncryptedConversations
from builtin_plugins.chatbots.settings import SETTINGS_SECTION, ChatbotsSettings, load_key
from builtin_plugins.chatbots.store import chatbot_ids_owned_by, owner_of
from kernel.runtime import Kernel
from kernel.services import ConversationMessage
from kernel.stash import StashKey

__all__ = ["ChatbotsRuntime", "ConversationService", "Directory", "runtime_for"]


class ChatbotsRuntime:
    """The settings and conversation store of one kernel."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._store: tuple[ChatbotsSettings, EncryptedConversations] | None = None

    @property
    def settings(self) -> ChatbotsSettings:
        return self.kernel.settings.section(SETTINGS_SECTION, ChatbotsSettings)

    @property
    def conversations(self) -> EncryptedConversations:
        """The store sealing messages under the current key."""
        settings = self.settings
        if self._store is None or self._store[0] is not settings:
            key = load_key(settings, self.kernel.settings.data_dir)
            store = EncryptedConversations(self.kernel.stores.db, MessageCipher(key))
            self._store = (settings, store)
        return self._store[1]


class ConversationService:
    """The ``ConversationStore`` service: resolves the current store on each call, so it can be
    published before the kernel's stores are open (CLI commands, the services lookup)."""

    def __init__(self, runtime: ChatbotsRuntime) -> None:
        self._runtime = runtime

    async def create(self, *, owner_id: str, chatbot_id: str) -> str:
        return await self._runtime.conversations.create(owner_id=owner_id, chatbot_id=chatbot_id)

    async def append(self, conversation_id: str, messages: Sequence[ConversationMessage]) -> None:
        await self._runtime.conversations.append(conversation_id, messages)

    async def recent(self, conversation_id: str, *, turns: int) -> list[ConversationMessage]:
        return await self._runtime.conversations.recent(conversation_id, turns=turns)


class Directory:
    """The ``ChatbotDirectory`` service: chatbot owners, read from SQL on each call."""

    def __init__(self, runtime: ChatbotsRuntime) -> None:
        self._runtime = runtime

    async def owner_of(self, chatbot_id: str) -> str | None:
        return await owner_of(self._runtime.kernel.stores.db, chatbot_id)

    async def chatbot_ids_owned_by(self, owner_id: str) -> list[str]:
        return await chatbot_ids_owned_by(self._runtime.kernel.stores.db, owner_id)


_RUNTIME: StashKey[ChatbotsRuntime] = StashKey()


def runtime_for(kernel: Kernel) -> ChatbotsRuntime:
    """The runtime of ``kernel``, created on first use."""
    runtime = kernel.stash.get(_RUNTIME)
    if runtime is None:
        runtime = kernel.stash[_RUNTIME] = ChatbotsRuntime(kernel)
    return runtime
