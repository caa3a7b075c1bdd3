"""Runtime settings (admins) through ``/settings``: everything in effect on this replica, as
``GET /api-internal/v1/settings`` shows it (secrets masked), one table per section. A plugin's
section changes at run time through that plugin's settings form (applied on every replica); a
kernel section needs a restart, so it is shown read-only with the variable that sets each key."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Request, Response, get

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.render import Pages
from builtin_plugins.dashboard.session import load_viewer
from builtin_plugins.dashboard.signed_in import viewer_page
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel
from kernel.settings import ENV_PREFIX

__all__ = ["SETTINGS_HANDLERS", "SettingRow", "SettingsSection", "settings_sections"]

_GENERAL = ""
"""The section name of the kernel's top-level keys (``data_dir``)."""


class SettingRow(msgspec.Struct, frozen=True):
    """One key of a section: its value as shown (JSON for lists and tables) and the environment
    variable that sets it."""

    key: str
    value: str
    variable: str


class SettingsSection(msgspec.Struct, frozen=True):
    """A section's keys; ``plugin`` names the builtin plugin whose form edits it at run time
    (``None``: a kernel section, changed in the config file or environment, then a restart)."""

    name: str
    rows: list[SettingRow]
    editable: bool
    plugin: str | None


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))


def _rows(section: str, values: dict[str, Any]) -> list[SettingRow]:
    prefix = f"{ENV_PREFIX}{section.upper()}_" if section else ENV_PREFIX
    return [
        SettingRow(key=key, value=_shown(value), variable=f"{prefix}{key.upper()}")
        for key, value in values.items()
    ]


def settings_sections(
    values: dict[str, Any], editable: list[str], plugin_of: dict[str, str]
) -> list[SettingsSection]:
    """The settings API's ``values`` as sections: the kernel's top-level keys first (as the
    unnamed section), then the kernel sections, then the plugin sections, each sorted by name."""
    general = {k: v for k, v in values.items() if not isinstance(v, dict)}
    named = {k: v for k, v in values.items() if isinstance(v, dict)}
    order = sorted(named, key=lambda name: (name in editable, name))
    sections = [
        SettingsSection(name=_GENERAL, rows=_rows(_GENERAL, general), editable=False, plugin=None)
    ]
    sections.extend(
        SettingsSection(
            name=name,
            rows=_rows(name, named[name]),
            editable=name in editable,
            plugin=plugin_of.get(name),
        )
        for name in order
    )
    return sections


async def _body(api: InternalApi, path: str) -> dict[str, Any]:
    answer = await api.call("GET", path)
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    return answer.body


@get("/settings")
async def settings_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Every setting in effect on this replica (admins; the API refuses others)."""
    viewer = await load_viewer(request)
    api = InternalApi(request, viewer.token)
    current = await _body(api, "/settings")
    plugins = await _body(api, "/plugins")
    plugin_of = {p["settings_section"]: p["name"] for p in plugins["data"] if p["settings_section"]}
    sections = settings_sections(current["values"], current["editable"], plugin_of)
    return viewer_page(
        pages, kernel, viewer, "settings.html", sections=sections, source=current["source"]
    )


SETTINGS_HANDLERS = [settings_page]
