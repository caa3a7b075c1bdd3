"""``POST /plugins/<name>``: a plugin's default action (``execute``), mounted only for plugins
whose manifest declares ``execute = true``, on the public surface (API key scope
``plugins.invoke``) and the internal one (JWT), like the plugin's endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, route
from litestar.handlers import HTTPRouteHandler

from builtin_plugins.wasm_plugins.answers import CallerView, answer_of, caller_of, failure_of
from builtin_plugins.wasm_plugins.host import host_of
from builtin_plugins.wasm_plugins.openapi import execute_doc
from builtin_plugins.wasm_plugins.registry import Installed
from kernel.dependencies import NamedDependency
from kernel.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from kernel.gate import request_context
from kernel.openapi import OPERATION_DOC
from kernel.runtime import Kernel
from kernel.sandbox import CallFailed

__all__ = ["SCOPE", "ActionCall", "execute_call", "execute_handler"]

SCOPE = "plugins.invoke"


class ActionCall(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The request of an ``execute`` call (HTTP) or a ``schedule`` call (cron): the guest's
    ``Context``."""

    body: Any = None
    caller: CallerView = CallerView()
    request_id: str = ""
    schedule: str = ""
    fire_time: datetime | None = None


def _body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise InvalidRequestError("The request body must be JSON.") from None


async def execute_call(
    request: Request[Any, Any, Any], kernel: Kernel, name: str
) -> Response[bytes]:
    """Call the ``execute`` of plugin ``name`` with the JSON body and return its answer."""
    host = host_of(kernel)
    manifest = host.runnable(name).manifest
    if not manifest.execute:
        raise NotFoundError(f"Plugin '{name}' has no default action.")
    limit = manifest.limits.max_request_bytes
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLargeError(f"Plugin '{name}' accepts at most {limit} bytes.")
    ctx = request_context(request.scope)
    call = ActionCall(
        body=_body(raw),
        caller=caller_of(request),
        request_id=ctx.request_id if ctx else "",
    )
    try:
        answer = await host.call(name, "execute", msgspec.json.encode(call).decode())
    except CallFailed as exc:
        raise failure_of(exc) from None
    return answer_of(name, answer)


async def run_execute(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> Response[bytes]:
    """Call the plugin's ``execute`` with the JSON body and return its answer."""
    return await execute_call(request, kernel, request.route_handler.opt["wasm"])


def execute_handler(installed: Installed, surface: str) -> HTTPRouteHandler:
    """``POST /plugins/<name>`` for ``surface``; only for a plugin that declares execute."""
    name = installed.name
    opt: dict[str, Any] = {"wasm": name, OPERATION_DOC: execute_doc()}
    if surface == "public":
        opt["enclava_scope"] = SCOPE  # internal: the default roles (writes need user)
    return route(
        f"/plugins/{name}",
        http_method=["POST"],
        opt=opt,
        name=f"wasm_{surface}_{name}_execute",
        operation_id=f"{surface}_plugin_{name}_execute",
        summary=f"Run the default action of plugin {name}",
        description=installed.manifest.description or None,
        tags=[f"plugin:{name}"],
        status_code=200,
    )(run_execute)
