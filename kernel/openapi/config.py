"""The app's ``OpenAPIConfig``: the finished document at ``/schema/openapi.json``, Redoc at
``/schema`` (and ``/schema/redoc``), nothing fetched from a CDN."""

from __future__ import annotations

from litestar.openapi import OpenAPIConfig

from kernel.openapi.document import FinishedDocument
from kernel.openapi.render import FinishedJson, OfflineRedoc

__all__ = ["SCHEMA_PATH", "openapi_config"]

SCHEMA_PATH = "/schema"
_DESCRIPTION = (
    "Routes under `/api/v1` form the OpenAI-compatible public API; routes under "
    "`/api-internal/v1` the management API. Every error answers "
    '`{"error": {"message", "type", "param", "code"}}` (the `Error` schema).'
)


def openapi_config(*, title: str, version: str) -> OpenAPIConfig:
    """A fresh config for one app; the document is still built lazily, on first request."""
    document = FinishedDocument()
    return OpenAPIConfig(
        title=title,
        version=version,
        description=_DESCRIPTION,
        path=SCHEMA_PATH,
        use_handler_docstrings=True,
        render_plugins=[
            OfflineRedoc(document, schema_path=SCHEMA_PATH),
            FinishedJson(document),
        ],
    )
