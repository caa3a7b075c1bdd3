"""OpenAPI declarations of the routes that take raw bodies: plugin endpoints, ``execute`` and the
upload. What a guest accepts and answers is its own business: any JSON or text, the status too.
"""

from __future__ import annotations

from kernel.openapi import Body, OperationDoc

__all__ = ["endpoint_doc", "execute_doc", "upload_doc"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _answer() -> Body:
    return Body(
        description="The plugin's answer: JSON, or text; the plugin picks the status too.",
        content={"application/json": {}, "text/plain": {"type": "string"}},
    )


def endpoint_doc(method: str) -> OperationDoc:
    """A plugin endpoint: the body, if any, reaches the plugin as text."""
    request = None
    if method in _BODY_METHODS:
        request = Body(
            description="Passed to the plugin as text, whatever its media type.",
            content={"*/*": {"type": "string"}},
            required=False,
        )
    return OperationDoc(request=request, responses={200: _answer()})


def execute_doc() -> OperationDoc:
    """``POST /plugins/<name>``: any JSON value (or nothing) as the action's input."""
    return OperationDoc(
        request=Body(
            description="Any JSON value, handed to the plugin's `execute`; empty means null.",
            content={"application/json": {}},
            required=False,
        ),
        responses={200: _answer()},
    )


def upload_doc() -> OperationDoc:
    """``POST /wasm-plugins``: a zip archive."""
    return OperationDoc(
        request=Body(
            description="A zip of `plugin.toml` and the `.wasm` component it names.",
            content={"application/zip": {"type": "string", "format": "binary"}},
        )
    )
