"""Litestar's OpenAPI document, finished by the kernel in one place.

Litestar builds its document lazily, on the first ``/schema`` request; :class:`FinishedDocument`
finishes a copy of it then, once per app, from what each route handler declares:

* ``opt[OPERATION_DOC]`` (:class:`~kernel.openapi.operation.OperationDoc`): request body and
  responses of handlers that read raw bodies, and the component schemas they reference;
* ``enclava_surface`` / ``enclava_anonymous``: the security the operation requires;
* what the gate enforces (credentials, body size, Content-Type): the error statuses, every one
  answering ``Error``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.routes import HTTPRoute

from kernel.dependencies import kernel_of
from kernel.openapi.errors import error_components, is_error_status, with_error_responses
from kernel.openapi.operation import OPERATION_DOC, Body, OperationDoc, SchemaSource
from kernel.openapi.security import SecurityRequirements, security_by_surface

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.handlers import HTTPRouteHandler


__all__ = ["FinishedDocument", "finish_document"]

_REF_TEMPLATE = "#/components/schemas/{name}"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
Loaders = set[Callable[[], Mapping[str, Any]]]


class FinishedDocument:
    """The finished document of one app, built from Litestar's on first use and then kept."""

    def __init__(self) -> None:
        self._source: dict[str, Any] | None = None
        self._finished: dict[str, Any] = {}

    def get(self, app: Litestar, source: dict[str, Any]) -> dict[str, Any]:
        """The finished form of ``source`` (Litestar's cached document for ``app``)."""
        if source is not self._source:
            self._finished = finish_document(app, source)
            self._source = source
        return self._finished


def finish_document(app: Litestar, source: Mapping[str, Any]) -> dict[str, Any]:
    """A finished copy of ``source``; Litestar's own stays untouched."""
    document = copy.deepcopy(dict(source))
    kernel = kernel_of(app)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _merge(schemas, error_components(), strict=True)
    schemes, requirements = security_by_surface(kernel.components.authenticators)
    if schemes:
        components["securitySchemes"] = schemes
    handlers = _handlers(app)
    loaded: Loaders = set()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            handler = handlers.get((path, method.upper()))
            if handler is not None:
                _security(operation, handler, requirements)
                _declare(operation, handler.opt.get(OPERATION_DOC), schemas, loaded)
                _errors(operation, handler, method.upper())
    return document


def _handlers(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    found: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                found[(route.path_format or "/", method)] = handler
    return found


def _security(
    operation: dict[str, Any], handler: HTTPRouteHandler, requirements: SecurityRequirements
) -> None:
    surface = handler.opt.get("enclava_surface", "root")
    authenticated = surface != "root" and not handler.opt.get("enclava_anonymous", False)
    if authenticated and requirements.get(surface):
        operation["security"] = requirements[surface]
    else:
        operation.pop("security", None)


def _declare(
    operation: dict[str, Any], declared: object, schemas: dict[str, Any], loaded: Loaders
) -> None:
    if not isinstance(declared, OperationDoc):
        return
    if declared.components is not None and declared.components not in loaded:
        loaded.add(declared.components)
        _merge(schemas, declared.components(), strict=True)
    if declared.request is not None:
        body = _body(declared.request, schemas)
        operation["requestBody"] = {**body, "required": declared.request.required}
    responses = operation.setdefault("responses", {})
    for status, response in declared.responses.items():
        described = response.description or responses.get(str(status), {}).get("description")
        body = _body(response, schemas)
        responses[str(status)] = {"description": described or HTTPStatus(status).phrase, **body}


def _errors(operation: dict[str, Any], handler: HTTPRouteHandler, method: str) -> None:
    opt = handler.opt
    surface = opt.get("enclava_surface", "root")
    responses = operation.get("responses", {})
    statuses: set[str] = set()
    has_body = method in _BODY_METHODS and "requestBody" in operation
    if has_body or "400" in responses:
        statuses.add("400")
    if surface != "root":
        statuses.add("403")
        if not opt.get("enclava_anonymous", False):
            statuses.add("401")
    if has_body:
        statuses.add("413")
        if opt.get("enclava_json_body", False) or "data" in handler.parsed_fn_signature.parameters:
            statuses.add("415")
    declared = opt.get(OPERATION_DOC)
    keep = {str(status) for status in handler.responses or {}}
    if isinstance(declared, OperationDoc):
        keep |= {str(status) for status in declared.responses}
    keep = {status for status in keep if is_error_status(status)}
    operation["responses"] = with_error_responses(responses, statuses, keep=keep)


def _body(body: Body, schemas: dict[str, Any]) -> dict[str, Any]:
    content = {
        media: {"schema": _schema(source, schemas)} for media, source in body.content.items()
    }
    described = {"description": body.description} if body.description else {}
    return {**described, "content": content}


def _schema(source: SchemaSource, schemas: dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    (schema,), generated = msgspec.json.schema_components([source], ref_template=_REF_TEMPLATE)
    _merge(schemas, generated)
    return schema


def _merge(schemas: dict[str, Any], new: Mapping[str, Any], *, strict: bool = False) -> None:
    """Add ``new`` component schemas; a name Litestar already generated keeps its schema, but a
    ``strict`` (hand-written) one that differs from it is a bug, named at once."""
    for name, schema in new.items():
        existing = schemas.setdefault(name, schema)
        if strict and existing != schema:
            raise ValueError(f"two different OpenAPI component schemas are named '{name}'")
