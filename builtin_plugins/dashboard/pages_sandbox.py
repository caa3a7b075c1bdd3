"""Sandboxed (WASM) plugins for admins, through ``/wasm-plugins``: upload a zip, read the
permissions it asks for, approve exactly the digest shown, enable or disable, and see its state,
metrics and recent log lines. The API refuses non-admins and checks the digest."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.pages_plugins import plugins_listing
from builtin_plugins.dashboard.render import Pages, redirect
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.signed_in import chosen
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["SANDBOX_HANDLERS"]

URL = "/dashboard/sandbox"
MAX_UPLOAD = 64 * 1024 * 1024
"""The largest zip the dashboard passes on (the API applies its own configured limit too)."""
_ACTIONS = frozenset({"approve", "enable", "disable"})


def _path(name: str) -> str:
    return f"/wasm-plugins/{quote(name, safe='')}"


async def _page(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    name: str,
    *,
    error: str = "",
    status: int = 200,
) -> Response[Any]:
    api = InternalApi(request, viewer.token)
    answer = await api.call("GET", _path(name))
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    logs = await api.call("GET", f"{_path(name)}/logs")
    return pages.page(
        "sandbox_plugin.html",
        status=status,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        plugin=answer.body,
        logs=logs.body["lines"][-50:] if logs.ok and isinstance(logs.body, dict) else [],
        error=error,
    )


@get("/sandbox/{name:str}")
async def sandbox_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    name: FromPath[str],
) -> Response[Any]:
    """One sandboxed plugin: permissions, approval, state, metrics, recent logs."""
    return await _page(request, kernel, pages, await load_viewer(request), name)


@post(
    "/sandbox",
    request_max_body_size=MAX_UPLOAD + 65536,
    opt={"enclava_max_body_bytes": MAX_UPLOAD + 65536},
)
async def upload_sandboxed(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Install a plugin from the uploaded zip (disabled until approved and enabled)."""
    viewer = await writer(request, kernel)
    upload = (await request.form()).get("archive")
    content = await upload.read() if isinstance(upload, UploadFile) else b""
    answer = await InternalApi(request, viewer.token).call(
        "POST", "/wasm-plugins", content=content, content_type="application/zip"
    )
    if not answer.ok or not isinstance(answer.body, dict):
        return await plugins_listing(
            request, kernel, pages, viewer, upload_error=answer.message, status=answer.status
        )
    return redirect(request, f"{URL}/{quote(str(answer.body['name']), safe='')}")


@post("/sandbox/{name:str}/{action:str}")
async def act_on_sandboxed(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    name: FromPath[str],
    action: FromPath[str],
) -> Response[Any]:
    """``approve`` the component and permissions whose digest the page showed, ``enable`` or
    ``disable`` it on every replica (it runs once approved and enabled)."""
    viewer = await writer(request, kernel)
    body = None
    if chosen(action, _ACTIONS) == "approve":
        body = {"permissions_digest": (await read_form(request)).text("permissions_digest")}
    api = InternalApi(request, viewer.token)
    answer = await api.call("POST", f"{_path(name)}/{action}", json=body)
    if not answer.ok:
        return await _page(
            request, kernel, pages, viewer, name, error=answer.message, status=answer.status
        )
    return redirect(request, f"{URL}/{quote(name, safe='')}")


SANDBOX_HANDLERS = [
    sandbox_page,
    upload_sandboxed,
    act_on_sandboxed,
]
