"""The dashboard's router at ``/dashboard``: pages, the live feed and the vendored assets."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from builtin_plugins.dashboard.pages_attestation import ATTESTATION_HANDLERS
from builtin_plugins.dashboard.pages_audit import AUDIT_HANDLERS
from builtin_plugins.dashboard.pages_auth import AUTH_HANDLERS
from builtin_plugins.dashboard.pages_budgets import BUDGET_HANDLERS
from builtin_plugins.dashboard.pages_chatbots import CHATBOT_HANDLERS
from builtin_plugins.dashboard.pages_conversations import CONVERSATION_HANDLERS
from builtin_plugins.dashboard.pages_document_files import DOCUMENT_FILE_HANDLERS
from builtin_plugins.dashboard.pages_documents import DOCUMENTS_HANDLERS
from builtin_plugins.dashboard.pages_key_edit import KEY_EDIT_HANDLERS
from builtin_plugins.dashboard.pages_keys import KEYS_HANDLERS
from builtin_plugins.dashboard.pages_overview import OVERVIEW_HANDLERS
from builtin_plugins.dashboard.pages_playground import PLAYGROUND_HANDLERS
from builtin_plugins.dashboard.pages_plugins import PLUGINS_HANDLERS
from builtin_plugins.dashboard.pages_sandbox import SANDBOX_HANDLERS
from builtin_plugins.dashboard.pages_settings import SETTINGS_HANDLERS
from builtin_plugins.dashboard.pages_usage import USAGE_HANDLERS
from builtin_plugins.dashboard.pages_users import USERS_HANDLERS
from builtin_plugins.dashboard.render import Pages, exception_handlers

__all__ = ["PREFIX", "STATIC", "dashboard_router"]

PREFIX = "/dashboard"
STATIC = Path(__file__).parent / "static"
_ASSET_MAX_AGE = 3600


def dashboard_router() -> Router:
    """Every dashboard route, with one template renderer shared by its handlers."""
    pages = Pages()

    def provide_pages() -> Pages:
        return pages

    assets = create_static_files_router(
        path="/static",
        directories=[STATIC],
        cache_control=CacheControlHeader(max_age=_ASSET_MAX_AGE),
        include_in_schema=False,
    )
    return Router(
        path=PREFIX,
        route_handlers=[
            *AUTH_HANDLERS,
            *OVERVIEW_HANDLERS,
            *KEYS_HANDLERS,
            *KEY_EDIT_HANDLERS,
            *USAGE_HANDLERS,
            *BUDGET_HANDLERS,
            *PLUGINS_HANDLERS,
            *SANDBOX_HANDLERS,
            *ATTESTATION_HANDLERS,
            *USERS_HANDLERS,
            *AUDIT_HANDLERS,
            *SETTINGS_HANDLERS,
            *CHATBOT_HANDLERS,
            *PLAYGROUND_HANDLERS,
            *CONVERSATION_HANDLERS,
            *DOCUMENTS_HANDLERS,
            *DOCUMENT_FILE_HANDLERS,
            assets,
        ],
        dependencies={"pages": Provide(provide_pages, sync_to_thread=False)},
        exception_handlers=exception_handlers(pages),
        include_in_schema=False,
    )
