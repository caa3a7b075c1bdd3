"""RAG: confidential document collections with hybrid retrieval.

Collections belong to a user, who may share them with other users (readers or editors).
Uploaded originals are stored encrypted in the file store; ingest jobs in SQL extract their
text (type sniffed from the content), cut it into token-aware chunks,
embed them (a local ONNX model, or a provider model through the gateway) and store the chunk
text encrypted in SQL and the vectors — dense and sparse, with ids and owner/collection/document
fields only — in the vector store. Search fuses dense and sparse ranks in Qdrant (RRF). The
plugin publishes the :class:`~kernel.services.Retriever` service for chatbots.
"""

from __future__ import annotations

from pathlib import Path

from builtin_plugins.rag.cli import rag_command
from builtin_plugins.rag.retriever import RagRetriever
from builtin_plugins.rag.routes_internal import INTERNAL_ROUTES
from builtin_plugins.rag.routes_public import PUBLIC_ROUTES
from builtin_plugins.rag.routes_shares import SHARE_ROUTES
from builtin_plugins.rag.runtime import SECTION, runtime_for
from builtin_plugins.rag.settings import RagSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import Retriever, Service
from kernel.types import CliCommand, RouteSet, SettingsSection

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "rag"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[rag]`` section (``ENCLAVA_RAG_*``)."""
    return SettingsSection(name=SECTION, schema=RagSettings)


@hookimpl
def enclava_migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
async def enclava_startup(kernel: Kernel) -> None:
    await runtime_for(kernel).start()


@hookimpl
async def enclava_shutdown(kernel: Kernel) -> None:
    await runtime_for(kernel).stop()


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(public=PUBLIC_ROUTES, internal=[*INTERNAL_ROUTES, *SHARE_ROUTES])


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    return [Service(contract=Retriever, implementation=RagRetriever(runtime_for(kernel)))]


@hookimpl
def enclava_cli(kernel: Kernel) -> list[CliCommand]:
    return [rag_command()]
