"""The OpenAPI document at ``/schema/openapi.json`` and its offline docs page at ``/schema``.

Litestar infers most of the document from handler signatures; the kernel finishes it in one
place (:mod:`kernel.openapi.document`): request and response bodies that handlers reading raw
bodies declare (:class:`OperationDoc`), the real error body ``Error`` on every 4xx/5xx, and the
security schemes of each surface's authenticators (:class:`DocumentedAuthenticator`).
"""

from __future__ import annotations

from kernel.openapi.config import SCHEMA_PATH, openapi_config
from kernel.openapi.operation import OPERATION_DOC, Body, OperationDoc, SchemaSource, schema_ref
from kernel.openapi.security import DocumentedAuthenticator

__all__ = [
    "OPERATION_DOC",
    "SCHEMA_PATH",
    "Body",
    "DocumentedAuthenticator",
    "OperationDoc",
    "SchemaSource",
    "openapi_config",
    "schema_ref",
]
