"""``/schema/openapi.json`` and the docs page, both serving the finished document.

The page is Redoc, loaded from ``/schema/redoc.standalone.js`` (vendored in ``kernel/static/redoc``)
with no web fonts and no favicon from a CDN: it renders with no network at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import get
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin
from litestar.response import File

from kernel.openapi.document import FinishedDocument

if TYPE_CHECKING:
    from litestar import Request, Router

__all__ = ["REDOC_BUNDLE", "FinishedJson", "OfflineRedoc"]

REDOC_BUNDLE = Path(__file__).resolve().parents[1] / "static" / "redoc" / "redoc.standalone.js"
_ASSET_PATH = "/redoc.standalone.js"


@get(
    _ASSET_PATH,
    include_in_schema=False,
    sync_to_thread=False,
    cache_control=CacheControlHeader(public=True, max_age=86400),
)
def redoc_bundle() -> File:
    """Redoc's standalone bundle, shipped in the package."""
    return File(
        REDOC_BUNDLE,
        filename=REDOC_BUNDLE.name,
        media_type="text/javascript",
        content_disposition_type="inline",
    )


class FinishedJson(JsonRenderPlugin):
    """``openapi.json``: the document as :mod:`kernel.openapi.document` finishes it."""

    def __init__(self, document: FinishedDocument) -> None:
        super().__init__()
        self._document = document

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, self._document.get(request.app, openapi_schema))


class OfflineRedoc(RedocRenderPlugin):
    """Redoc on the finished document, its script served by the schema router itself."""

    def __init__(self, document: FinishedDocument, *, schema_path: str) -> None:
        super().__init__(
            js_url=f"{schema_path.rstrip('/')}{_ASSET_PATH}",
            google_fonts=False,
            favicon="",
            path="/redoc",
        )
        self._document = document

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._document.get(request.app, openapi_schema))

    def receive_router(self, router: Router) -> None:
        router.register(redoc_bundle)
