"""Plugins (admins): the builtin ones with enable/disable (essential ones locked) and each one's
settings as a form generated from its schema, through ``/plugins``; the sandboxed ones are listed
alongside (their own pages are in :mod:`.pages_sandbox`). The API refuses non-admins."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath

from builtin_plugins.dashboard.api import ApiAnswer, ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import Pages
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.settings_form import SettingField, changed_values, setting_fields
from builtin_plugins.dashboard.signed_in import act, chosen
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["PLUGINS_HANDLERS", "PLUGINS_URL", "plugins_listing"]

PLUGINS_URL = "/dashboard/plugins"
_ACTIONS = frozenset({"enable", "disable"})


def _path(name: str) -> str:
    return f"/plugins/{quote(name, safe='')}"


async def _answer(api: InternalApi, path: str) -> Any:
    answer = await api.call("GET", path)
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    return answer.body


async def plugins_listing(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    *,
    upload_error: str = "",
    status: int = 200,
) -> Response[Any]:
    """The plugins page; ``upload_error`` shows at the upload form."""
    api = InternalApi(request, viewer.token)
    builtin = await _answer(api, "/plugins")
    sandboxed = await api.call("GET", "/wasm-plugins")
    return pages.page(
        "plugins.html",
        status=status,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        plugins=builtin["data"],
        sandboxed=sandboxed.body["data"] if sandboxed.ok and sandboxed.body else None,
        upload_error=upload_error,
    )


@get("/plugins")
async def plugins_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Every builtin plugin and every sandboxed one, with their state."""
    return await plugins_listing(request, kernel, pages, await load_viewer(request))


@post("/plugins/{name:str}/{action:str}")
async def toggle_plugin(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    name: FromPath[str],
    action: FromPath[str],
) -> Response[Any]:
    """``enable`` or ``disable`` a builtin plugin on every replica (the API refuses to disable
    essential ones)."""
    path = f"{_path(name)}/{chosen(action, _ACTIONS)}"
    return await act(request, kernel, "POST", path, PLUGINS_URL)


def _api_errors(answer: ApiAnswer, fields: list[SettingField]) -> dict[str, str]:
    """The API's message next to the field it names (or above the form)."""
    named = answer.param
    if named is None:
        for field in fields:
            if re.search(rf"\b{re.escape(field.name)}\b", answer.message):
                named = field.name
                break
    return {named if named in {f.name for f in fields} else "form": answer.message}


async def _settings(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    name: str,
    **state: Any,
) -> Response[Any]:
    api = InternalApi(request, viewer.token)
    config = await _answer(api, f"{_path(name)}/config")
    fields = setting_fields(config["schema"], config["values"])
    shown: dict[str, str] = state.pop("shown", {})
    return pages.page(
        "plugin_settings.html",
        status=state.pop("status", 200),
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        plugin=name,
        section=config["section"],
        fields=fields,
        shown=shown,
        errors=state.pop("errors", {}),
        saved=state.pop("saved", False),
    )


@get("/plugins/{name:str}")
async def plugin_settings_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    name: FromPath[str],
) -> Response[Any]:
    """A builtin plugin's settings as a form generated from its schema."""
    return await _settings(request, kernel, pages, await load_viewer(request), name)


@post("/plugins/{name:str}")
async def save_plugin_settings(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    name: FromPath[str],
) -> Response[Any]:
    """Validate and save the changed settings; errors show next to their field."""
    viewer = await writer(request, kernel)
    api = InternalApi(request, viewer.token)
    config = await _answer(api, f"{_path(name)}/config")
    fields = setting_fields(config["schema"], config["values"])
    form = await read_form(request)
    changes, errors = changed_values(fields, form)
    if not errors and changes:
        answer = await api.call("PUT", f"{_path(name)}/config", json=changes)
        if answer.ok:
            return await _settings(request, kernel, pages, viewer, name, saved=True)
        errors = _api_errors(answer, fields)
    elif not errors:
        return await _settings(request, kernel, pages, viewer, name, saved=True)
    return await _settings(
        request, kernel, pages, viewer, name, errors=errors, shown=form.fields(), status=400
    )


PLUGINS_HANDLERS = [
    plugins_page,
    toggle_plugin,
    plugin_settings_page,
    save_plugin_settings,
]
