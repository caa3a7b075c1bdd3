"""Chatbots: configured assistants with memory, retrieval and their own OpenAI endpoint.

Configs are owned by users; conversations keep a stable id across turns and their messages are
sealed at rest (AES-GCM). Each turn goes through the gateway service with the chatbot's model,
parameters and provider constraints, and through the retriever service when it has collections.
Publishes the ``ConversationStore`` and ``ChatbotDirectory`` services; deletes idle
conversations after ``retention_days``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from builtin_plugins.chatbots.routes_internal import INTERNAL_ROUTES
from builtin_plugins.chatbots.routes_public import PUBLIC_ROUTES
from builtin_plugins.chatbots.runtime import ConversationService, Directory, runtime_for
from builtin_plugins.chatbots.settings import SETTINGS_SECTION, ChatbotsSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import ChatbotDirectory, ConversationStore, Service
from kernel.types import BackgroundTask, RouteSet, SettingsSection

__all__ = ["PLUGIN_NAME", "RETENTION_INTERVAL", "VERSION", "purge_idle_conversations"]

PLUGIN_NAME = "chatbots"
VERSION = "1.0.0"
RETENTION_INTERVAL = 3600.0
"""Seconds between retention sweeps."""


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    return SettingsSection(name=SETTINGS_SECTION, schema=ChatbotsSettings)


@hookimpl
def enclava_migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(public=PUBLIC_ROUTES, internal=INTERNAL_ROUTES)


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    runtime = runtime_for(kernel)
    return [
        Service(contract=ConversationStore, implementation=ConversationService(runtime)),
        Service(contract=ChatbotDirectory, implementation=Directory(runtime)),
    ]


async def purge_idle_conversations(kernel: Kernel) -> int:
    """Delete conversations idle for longer than ``retention_days`` (0: keep all)."""
    runtime = runtime_for(kernel)
    days = runtime.settings.retention_days
    if days == 0:
        return 0
    cutoff = datetime.now(UTC) - timedelta(days=days)
    return await runtime.conversations.purge_idle_since(cutoff)


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> list[BackgroundTask]:
    async def sweep() -> None:
        await purge_idle_conversations(kernel)

    return [BackgroundTask(name="conversation-retention", interval=RETENTION_INTERVAL, run=sweep)]
