"""What a handler says about itself in the OpenAPI document when Litestar cannot infer it.

Litestar documents a handler from its signature (``data: JSONBody[Struct]``, the return type,
``responses={status: ResponseSpec(...)}``). A handler that reads its raw body (for speed, or to
forward it) or answers raw bytes declares instead, with ``opt={OPERATION_DOC: OperationDoc(...)}``,
what it accepts and answers::

    OperationDoc(
        request=Body(content={"application/json": CreateThing}),
        responses={200: Body(content={"application/json": Thing}, description="The thing.")},
    )

A schema is either a type msgspec can describe (a Struct becomes a component under its name) or
a JSON Schema mapping whose ``$ref``s point at ``#/components/schemas/NAME``; ``components``
returns those names' schemas and is called only when the document is first built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

__all__ = ["OPERATION_DOC", "Body", "OperationDoc", "SchemaSource", "schema_ref"]

OPERATION_DOC = "enclava_openapi"
"""The handler ``opt`` key holding an :class:`OperationDoc`."""

SchemaSource = Mapping[str, Any] | type[Any]
"""A JSON Schema mapping, or a type whose schema msgspec generates."""


def schema_ref(name: str) -> dict[str, str]:
    """``{"$ref": "#/components/schemas/NAME"}``."""
    return {"$ref": f"#/components/schemas/{name}"}


class Body(msgspec.Struct, frozen=True, kw_only=True):
    """A request or response body: one schema per media type."""

    content: Mapping[str, SchemaSource]
    description: str = ""
    required: bool = True
    """Request bodies only: False when the body may be empty."""


class OperationDoc(msgspec.Struct, frozen=True, kw_only=True):
    """A handler's request body and responses, replacing what Litestar inferred for them.

    ``responses`` replaces the responses of the same status (the handler's success status
    included); error statuses not listed here are documented by the kernel as ``Error``.
    """

    request: Body | None = None
    responses: Mapping[int, Body] = {}
    components: Callable[[], Mapping[str, Any]] | None = None
